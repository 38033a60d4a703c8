"""CalDAV scheduling (RFC 6638), iMIP (RFC 6047) and e-mail reminders.

``boxes`` (calendar users, inbox/outbox, default calendar), ``itip`` and
``lines`` (pure: iTIP facts and messages, line-level edits), ``implicit``
(what a PUT/DELETE schedules), ``freebusy``, ``imip``, ``replies``
(importing an e-mailed REPLY) and ``reminders``.  Services take a session
and flush; every delivery goes through :func:`kmdav.dav.service.store_item`.
"""
