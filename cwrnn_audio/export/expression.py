"""The instrument's expression model playing live, in TorchScript: a port of
:class:`cwrnn_audio.expression.live.LivePerformer` (its docstring holds the reading) for exported
instruments. Each voice's frames are read as :func:`~cwrnn_audio.expression.score.live_frames`
reads them and encoded as :func:`~cwrnn_audio.expression.codec.score_input` encodes them (no
lookahead); the model's loudness and pitch deviation replace the envelope's in the sounding frames
(:func:`~cwrnn_audio.ddsp.render.performed_controls`).
"""

from typing import Tuple

import torch
from torch import Tensor

from .network import StreamedNetwork


class ExportedPerformer(torch.nn.Module):
    """The expression ``model`` (a RuntimeModel) at ``frame_rate``; ``floor_db``: the instrument's
    loudness floor; ``horizon_s``: :data:`~cwrnn_audio.expression.score.HORIZON_S`."""

    def __init__(self, model, frame_rate: int, floor_db: float, horizon_s: float):
        super().__init__()
        self.net = StreamedNetwork(model)
        self.hidden_size = self.net.hidden_size
        self.fr, self.floor, self.horizon = int(frame_rate), float(floor_db), float(horizon_s)

    def perform(self, first: int, f0: Tensor, db: Tensor, pitch: Tensor, velocity: Tensor, on: Tensor,
                off: Tensor, used: Tensor, h: Tensor, t: int) -> Tuple[Tensor, Tensor, Tensor]:  # fmt: skip
        """Frames ``first ..`` of ``B`` voices: ``f0`` (Hz, float64) and ``db`` ``(B, n)``; each voice's
        note: ``pitch`` (MIDI), ``velocity`` (MIDI / 127), ``on`` and ``off`` (frames, -1 while held,
        float64), ``used`` (bool), all ``(B,)``; the model's state ``h`` at clock ``t``. Returns the
        performed ``f0``, ``db`` and the state after."""
        n = db.shape[1]
        i = (torch.arange(n, dtype=torch.float64) + first).unsqueeze(0)
        t_end = (i + 1.0) / self.fr
        on, off, used = on.unsqueeze(1), off.unsqueeze(1), used.unsqueeze(1)
        held = off < 0
        sounding = used & (i >= on) & (held | (i < off))
        ended = used & ~held & (i >= off)
        since = torch.where(sounding, t_end - on / self.fr, torch.where(ended, t_end - off / self.fr, t_end))
        x = torch.stack(
            [
                ((pitch.double() - 69.0) / 24.0).unsqueeze(1).expand_as(since),
                sounding.double(),
                since.clamp(0.0, self.horizon) / self.horizon,
                torch.ones_like(since),  # until the note's end: not known live (the horizon)
                torch.ones_like(since),  # to the next onset: not known live
                torch.where(sounding, velocity.double().unsqueeze(1), torch.zeros_like(since)),
            ],
            2,
        ).float()
        y, h = self.net(x, h, t)
        loud = (y[:, :, 0].double() - 1.0) * 80.0
        cents = y[:, :, 1].double() * 100.0
        f0 = torch.where(sounding, f0 * torch.pow(2.0, cents / 1200.0), f0)
        db = torch.where(sounding, loud.clamp(self.floor, 0.0), db)
        return f0, db, h
