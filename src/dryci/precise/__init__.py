"""The manifest format of DryCI 0.2's precise mode, kept while the server still stores manifests.

The function level (``dryci.selection``, ``dryci.protocol.records``) replaced precise mode on the client.
"""
