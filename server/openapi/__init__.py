"""The OpenAPI document clients are generated from: Litestar's, post-processed (`document.py`)."""

from server.openapi.plugin import ContractRender, contract_render_plugins

__all__ = ["ContractRender", "contract_render_plugins"]
