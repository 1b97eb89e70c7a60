"""Trained models as one house: the codec protocol, the registries of kinds, model folders."""

from .codec import BernoulliCodec, ClassCodec, Codec, FrameCodec
from .folder import ModelFolder, load_model_dir, save_model_dir
from .registry import codec_class, codec_from_dict, codec_names, make_codec, register_codec

__all__ = [
    "BernoulliCodec",
    "ClassCodec",
    "Codec",
    "FrameCodec",
    "ModelFolder",
    "codec_class",
    "codec_from_dict",
    "codec_names",
    "load_model_dir",
    "make_codec",
    "register_codec",
    "save_model_dir",
]
