"""The hyper-parameter grid of the paper's tuning search: what ``TuneConfig`` searches by default
and what ``cwrnn-audio paper tune --help`` prints. No imports, so the CLI's parser reads it here.
"""

OPTIMIZERS = ("sgd", "adam")  # sgd: Nesterov momentum 0.95, the paper's
LRS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)  # holds the paper's 3e-5 and 3e-4;
# up to 3e-1 because Adam put the small CW-RNNs' and LSTMs' optimum at 3e-2, the old top edge
CLIPS = (None, 1.0, 10.0)  # gradient-norm clip per network; None: none
FORGET_BIASES = (1.0, 5.0)  # LSTM only
DEV_COUNT = 5  # development excerpts
