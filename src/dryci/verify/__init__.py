"""dryci.verify."""
