"""Kernel websocket connection for jupyter_server 2.x with TCP_NODELAY on.

jupyter_server leaves Nagle's algorithm on for the kernel websocket, so every small message
waits for the peer's delayed ACK (about 40 ms on Linux). nbstage starts its Jupyter server with
``--ServerApp.kernel_websocket_connection_class=nbstage_nodelay.NoDelayWebsocketConnection``.
"""

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection


class NoDelayWebsocketConnection(ZMQChannelsWebsocketConnection):
    """The stock ZMQ channels connection, with TCP_NODELAY set on the websocket's socket."""

    def connect(self):
        try:
            self.websocket_handler.set_nodelay(True)
        except Exception:  # pragma: no cover - a closed stream has nothing to tune
            self.log.debug("nbstage: could not set TCP_NODELAY", exc_info=True)
        return super().connect()
