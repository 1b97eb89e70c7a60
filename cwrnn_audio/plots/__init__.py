"""PNG figures via matplotlib (imported only when a figure is made)."""
