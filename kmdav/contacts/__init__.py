"""Contacts: the CRM's base module on the CardDAV store."""
