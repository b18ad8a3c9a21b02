"""One LibreOffice instance behind a Unix socket: DOCX bytes in, PDF bytes out, never a path.

The pool supervisor (:mod:`service.documents.convert.pool`) runs one of these per instance,
in its own session, as the converter's user::

    python -m service.documents.convert.endpoint --socket DIR/rpc.sock --pipe NAME \\
        --profile DIR/profile --scratch DIR/tmp --conversion-timeout 35

It starts LibreOffice accepting UNO on the named pipe ``NAME`` (no TCP port; LibreOffice makes
the pipe a socket its own user alone may connect to), connects unoserver's converter to it,
and answers XML-RPC on ``--socket`` with three methods:

- ``convert(docx: Binary, pdfa: bool) -> Binary``: the PDF (PDF/A-2b when ``pdfa``). The
  document goes to LibreOffice through a file in ``--scratch``, removed after; there is no
  argument naming a file, so a caller cannot make LibreOffice read or write anything else.
- ``convert_even(docx: Binary, pdfa: bool) -> [int, int, Binary]``: as ``convert``, but when
  LibreOffice lays the document out on an odd number of pages and its last paragraph anchors
  a floating table (a notice's 版记), that paragraph starts a new page before the export:
  the pages added
  (0 or 1), the page count and the PDF. A notice's 版记 must end an even page
  (:func:`service.documents.render.typeset`): one load and one export, where rendering and
  converting again took two.
- ``info() -> dict``: the LibreOffice version, asked through UNO (so a dead or stuck
  LibreOffice fails it): the supervisor's health check.

A conversion running past ``--conversion-timeout`` kills LibreOffice and ends the endpoint
(the supervisor starts a new one): the backstop for a client that died mid-conversion.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
import xmlrpc.client
from pathlib import Path
from typing import Any
from xmlrpc.server import SimpleXMLRPCDispatcher, SimpleXMLRPCRequestHandler

from service.documents.convert._unoserver import PipeConverter, convert_even
from service.documents.convert.instance import (
    DOCX_IMPORT_FILTER,
    IMAGE_OPTIONS,
    PDFA_2B_OPTIONS,
)

logger = logging.getLogger("wenshu.convert.endpoint")

STARTUP_TIMEOUT = 60.0
EXIT_TIMED_OUT = 75


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/RPC2",)
    disable_nagle_algorithm = False  # a TCP option; this is a Unix socket

    def address_string(self) -> str:
        return "unix"  # a Unix socket's peer has no address; the default indexes one

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        logger.debug(format, *args)


class UnixXMLRPCServer(socketserver.UnixStreamServer, SimpleXMLRPCDispatcher):
    """``SimpleXMLRPCServer`` on a Unix socket, one request at a time (one LibreOffice)."""

    logRequests = False  # noqa: N815 (the handler reads this name)

    def __init__(self, path: Path) -> None:
        SimpleXMLRPCDispatcher.__init__(self, allow_none=False, encoding=None)
        socketserver.UnixStreamServer.__init__(self, str(path), _Handler)


def soffice_command(pipe_name: str, profile: Path) -> list[str]:
    """LibreOffice with a profile of its own, and its own cache of shared extensions too: the
    installation's (``/var/spool/libreoffice/uno_packages/cache``) is made, mode 0700, by the
    first LibreOffice that runs as root on the machine, and an instance of another user that
    finds it unreadable aborts at start (``DeploymentException``). No shared extension is
    installed, so the instance's own cache stays empty."""
    executable = shutil.which("soffice") or shutil.which("libreoffice") or "soffice"
    return [
        executable, "--headless", "--invisible", "--nocrashreport", "--nodefault", "--nologo",
        "--nofirststartwizard", "--norestore",
        f"-env:UserInstallation={profile.resolve().as_uri()}",
        f"-env:UNO_SHARED_PACKAGES_CACHE={(profile.resolve() / 'shared-packages').as_uri()}",
        f"--accept=pipe,name={pipe_name};urp;StarOffice.ComponentContext",
    ]  # fmt: skip


class Endpoint:
    """The converter's methods, and the watchdog around the conversions."""

    def __init__(self, converter: Any, soffice: subprocess.Popen[bytes], timeout: float) -> None:
        self.converter = converter
        self.soffice = soffice
        self.timeout = timeout

    def info(self) -> dict[str, str]:
        return {"libreoffice": str(self.converter.uno_info())}

    def convert(self, docx: Any, pdfa: Any) -> xmlrpc.client.Binary:
        """``docx``: Binary, ``pdfa``: bool (checked: this is what a caller sends us)."""
        if not isinstance(docx, xmlrpc.client.Binary) or not isinstance(pdfa, bool):
            raise TypeError("convert(docx: Binary, pdfa: bool)")
        watchdog = threading.Timer(self.timeout, self._give_up)
        watchdog.daemon = True
        watchdog.start()
        try:
            pdf = self.converter.convert(
                indata=docx.data, convert_to="pdf",
                filter_options=PDFA_2B_OPTIONS if pdfa else IMAGE_OPTIONS, infiltername=DOCX_IMPORT_FILTER,
            )  # fmt: skip
        finally:
            watchdog.cancel()
        return xmlrpc.client.Binary(bytes(pdf))

    def convert_even(self, docx: Any, pdfa: Any) -> list[Any]:
        """``docx``: Binary, ``pdfa``: bool. The PDF of ``docx``, its 版记 moved to a new page
        when the document is odd: ``[pages added (0 or 1), pages, the PDF as Binary]``, one
        load and one export (:func:`._unoserver.convert_even`)."""
        if not isinstance(docx, xmlrpc.client.Binary) or not isinstance(pdfa, bool):
            raise TypeError("convert_even(docx: Binary, pdfa: bool)")
        watchdog = threading.Timer(self.timeout, self._give_up)
        watchdog.daemon = True
        watchdog.start()
        try:
            added, pages, pdf = convert_even(
                self.converter, docx.data,
                PDFA_2B_OPTIONS if pdfa else IMAGE_OPTIONS, DOCX_IMPORT_FILTER,
            )  # fmt: skip
        finally:
            watchdog.cancel()
        return [added, pages, xmlrpc.client.Binary(pdf)]

    def _give_up(self) -> None:
        logger.error("conversion exceeded %g s: ending LibreOffice and this endpoint", self.timeout)
        self.soffice.kill()
        os._exit(EXIT_TIMED_OUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.documents.convert.endpoint")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--pipe", required=True)
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--scratch", type=Path, required=True)
    parser.add_argument("--conversion-timeout", type=float, default=35.0)
    args = parser.parse_args(argv)
    os.umask(0o077)  # profile, scratch and LibreOffice's pipe: this user's only
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    os.environ["TMPDIR"] = str(args.scratch)  # LibreOffice's own temporary files too
    soffice = subprocess.Popen(soffice_command(args.pipe, args.profile), stdin=subprocess.DEVNULL)

    def _stop(_signum: int, _frame: Any) -> None:
        soffice.terminate()
        try:
            soffice.wait(timeout=10)
        except subprocess.TimeoutExpired:
            soffice.kill()
        sys.exit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    converter = PipeConverter(args.pipe, args.scratch, STARTUP_TIMEOUT)
    endpoint = Endpoint(converter, soffice, args.conversion_timeout)
    args.socket.unlink(missing_ok=True)
    with UnixXMLRPCServer(args.socket) as server:
        os.chmod(args.socket, 0o660)  # the service's user: a member of the converter's group
        server.register_function(endpoint.convert, "convert")
        server.register_function(endpoint.convert_even, "convert_even")
        server.register_function(endpoint.info, "info")
        logger.info("listening on %s (LibreOffice pid %d)", args.socket, soffice.pid)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
