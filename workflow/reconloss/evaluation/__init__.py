"""Evaluation: every metric of a trained run, the FID network, levels and outcomes."""
