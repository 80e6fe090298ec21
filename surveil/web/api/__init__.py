"""The JSON API at ``/api/v1``, for the hospital's systems.

A FastAPI sub-application mounted by ``web.app.create_app``, with its own OpenAPI document
(``/api/v1/openapi.json``) and its own errors (RFC 9457 ``application/problem+json``). Callers
authenticate with a bearer token (``surveil token issue``); session cookies are never read
here, so there is no CSRF to defend against. Every route calls the same service entry points
as the web forms, with the token's user as the actor on channel ``api``.
"""
