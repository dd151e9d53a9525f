"""The data sets: download or load, verify, cache as tensors."""
