"""A memory's files: where each lives (and the rule that no path leaves the memory), the manifest, segment files
and their self-description, and whether a memory exists at a path.

Layer 3. May import: the basics, :mod:`~memvid_base.remote`, :mod:`~memvid_base.format`.
"""
