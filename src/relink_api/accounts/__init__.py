"""Linked accounts and their authorizations: state, history, link health."""
