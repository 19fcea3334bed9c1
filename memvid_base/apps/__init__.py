"""What people run: the ``memvid`` command, terminal chat, the Gradio web UI and the MCP server.

Layer 7 (the top). May import anything in ``memvid_base``; nothing in ``memvid_base`` imports it, except the
package's lazy ``MemvidInteractive`` attribute.
"""
