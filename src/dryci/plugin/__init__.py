"""dryci.plugin."""
