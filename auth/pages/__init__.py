"""The pages the links in auth's e-mails open: plain HTML forms served by the api (no script),
so a backend with no web app still lets people confirm, reset and answer lockdown mails."""

from auth.pages.routes import EmailLinkPages

__all__ = ["EmailLinkPages"]
