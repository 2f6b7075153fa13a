"""What the mouth articulates, from speech: jaw opening, lip spread or rounding, closure, lip-teeth contact.

Engine-agnostic: the warp engine shapes landmarks from it, and any engine that picks mouth shapes
can read the same track. `analysis.cached_articulation` is the entry point.
"""
