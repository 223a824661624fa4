"""dryci.server."""
