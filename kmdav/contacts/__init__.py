"""The contacts module: persons and companies on the CardDAV store.

``cards`` maps drafts to vCards (pure), ``fields`` keeps own-field
definitions, ``service`` creates/changes/deletes contacts through the one DAV
write path, ``crm`` holds what is not in the card (owner, notes, timeline),
``access`` says who sees and writes which contacts, ``search`` lists them.
"""
