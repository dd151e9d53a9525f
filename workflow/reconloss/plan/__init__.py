"""Plan time: the configuration checked, shown and generated, and the runs it asks for (torch-free)."""
