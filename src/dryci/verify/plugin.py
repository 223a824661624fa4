"""pytest entry point for the hermeticity verifier; filled in by the verify work."""
