"""steerid: extract, apply and audit the identifiability of activation steering vectors."""

__version__ = "0.1.0"
