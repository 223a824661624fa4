"""dryci.store."""
