"""Real mouths for the default engine: the template's own lower faces, chosen and placed per output frame.

`bank` cuts and describes them once per template (feature stage), `select` chooses one per output
frame for the whole job (before the chunks fan out, so every chunk agrees), `place` draws the
chosen one onto the shown frame (compose).
"""
