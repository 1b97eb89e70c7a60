"""Files: model files and atomic writes."""
