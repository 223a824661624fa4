"""pytest entry point for DryCI (options and registration); filled in by the plugin work."""
