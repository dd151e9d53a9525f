"""reconloss: the reconstruction likelihoods of a VAE, compared.

Deliberately empty of imports: every workflow job starts a fresh Python
process, and importing torch, torchvision or pytorch-fid where a job does not
need them costs seconds per job across hundreds of jobs.
"""

__version__ = "0.1.0"
