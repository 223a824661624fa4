"""dryci.dagger."""
