"""Reporting: tables, figures and the published docs/study."""
