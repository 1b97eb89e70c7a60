"""Numba CPU kernels (compiled on first use, cached on disk in __pycache__).

forward.py holds the step, read-out and tanh that the other kernels inline. Numba's cache
notices edits only to the cached function's own file, so after editing forward.py (or
readout_grad.py, optim.py) delete the ``__pycache__`` folder here to drop stale kernels.
"""
