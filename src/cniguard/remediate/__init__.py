"""Safe change: plans, impact checks, gated apply and verification."""
