"""The built-in stages of signify-graph.

Each module is a plugin registered through the ``signify_graph`` entry-point group, exactly
like a third party's: if our own stages could not be written as plugins, the plugin API would
not be good enough.
"""
