"""Built-in DAW-side plugins, installed as ``cwrnn_audio_plugins``.

Registered through the ``cwrnn_audio.plugins`` entry-point group in ``pyproject.toml``, the
same way a third-party package adds its own: ``effect`` (a CW-RNN trained on dry/processed
pairs), ``generator`` (a polyphonic synth of mu-law model voices) and ``continuator``
(answers the notes played with a MIDI model's continuation).
"""
