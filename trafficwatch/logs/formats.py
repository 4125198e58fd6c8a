"""Log formats: presets, GoAccess/nginx/Apache format strings -> one compiled line regex; detection."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# Named pieces of a request line; the parser turns their bytes into Records columns.
# host vhost time(+tz) date/clock request method path status size referer agent
_Q = rb'"(?P<%s>(?:[^"\\]|\\.)*)"'  # a quoted field with backslash escapes
_TIME_CLF = rb"\[(?P<time>[^\]]{1,64})\]"

_PIECES: dict[str, bytes] = {
    # a client, or a list of them as X-Forwarded-For writes it ("198.51.100.7, 10.0.0.2"): its
    # first address is the client. Bounded (16 more): a list of any length let a hostile line
    # of 'a, a, a, ...' end the client at each of its commas in turn, each tried to the line's
    # end (64 KB: 20 s; a review). A token with commas and no space after them is one client.
    "host": rb"(?P<host>[^\s,]+(?:,[^\s,]+)*)(?:,\s+[^\s,]+(?:,[^\s,]+)*){0,16},?",
    # a host name does not end with a comma: a line that starts with an X-Forwarded-For list is
    # no vhost line (each client had been a site), and one Host header with a comma inside does
    # not turn a vhost log into a combined one (a review)
    # a name, or an IPv6 address in brackets (nginx's $host for http://[2001:db8::1]/: one such
    # line among a sample's first ones had made a vhost log read as COMBINED, a trial)
    "vhost": rb"(?P<vhost>\[[0-9A-Fa-f:.]+\]|[^\s:]*[^\s:,])(?::\d+)?",
    "skip": rb"\S+",
    # identd's answer (Apache's %l): "-" unless IdentityCheck is on; nginx writes a literal "-"
    "ident": rb"(?P<ident>\S+)",
    "no_ident": rb"(?P<ident>-)",  # nginx's literal "-" (where a vhost holds spaces)
    # a vhost as a Host header may make it ($http_host is written as sent, spaces and all):
    # two words or more, read only where the one-word reading leaves an ident that is not "-"
    # (a Host of "shop.example 10.9.9.9" had 10.9.9.9 read as the client: a security trial)
    "spaced_vhost": rb"(?P<vhost>\S+(?:[ \t]\S+)+?)",
    "user": rb"(?:\S+|\S.*?\S)",
    "time": _TIME_CLF,
    # The request may hold stray quotes and spaces: it ends at the quote that a status follows.
    "request": rb'"(?P<request>.*?)"(?=\s+(?:\d{3}|-)\b)',
    "status": rb"(?P<status>\d{3}|-)",
    "size": rb"(?P<size>\d{1,18}|-)",
    # the bytes, then up to 3 timings before the referer (nginx's `$body_bytes_sent
    # $request_time "$http_referer"`, Apache's `%b %D`): read as COMMON, such a log had its
    # agents dropped, and --no-bots and visitors did nothing, nothing said (a trial)
    "size_timed": rb"(?P<size>\d{1,18}|-)(?:\s+(?:\d{1,18}(?:\.\d+)?|-)){0,3}",
    "referer": _Q % b"referer",
    # The agent may be cut short at the end of a truncated line (no closing quote).
    "agent": rb'"(?P<agent>(?:[^"\\]|\\.)*)(?:"|\\?$)',
    "quoted": rb'"(?:[^"\\]|\\.)*"',
}


@dataclass(frozen=True)
class LogFormat:
    """A compiled format: how to find each field in a line (or JSON/W3C handling)."""

    name: str
    kind: str  # "regex" | "json" | "w3c"
    pattern: bytes = b""
    time_style: str = "clf"  # clf | iso | epoch | epoch_ms | strptime
    date_format: str | None = None
    time_format: str | None = None
    json_fields: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def regex(self) -> re.Pattern[bytes]:
        return _compiled(self.pattern)


_CACHE: dict[bytes, re.Pattern[bytes]] = {}


def _compiled(pattern: bytes) -> re.Pattern[bytes]:
    rx = _CACHE.get(pattern)
    if rx is None:
        rx = _CACHE[pattern] = re.compile(pattern)
    return rx


EXTRA_FIELDS = rb'(?:\s+"(?:[^"\\]|\\.)*")*'  # quoted fields past a format's own (nginx's
# "$http_x_forwarded_for" appended to combined, ...), read and let go of


# What may come before a server's own line: a UTF-8 byte order mark (a file's first line), a
# syslog prefix (rsyslog's `Dec  5 10:15:02 web1 nginx: ` or its ISO time, journald's `short` and
# `short-iso` exports, a `<PRI>`) or the container runtime's (CRI, /var/log/containers:
# `2026-12-05T10:15:02.123Z stdout F `). Read as a line's first words, the syslog time had been
# a client ("2026-12-05T10:15:02.123000Z" for every line: --exclude-ip, visitors and top
# wrong) or a virtual host (`dec 05 10:15:02 web1 nginx[1234]:`: a site per line), all without a
# word (a trial)
_SYSLOG_TIME = (rb"(?:[A-Z][a-z]{2} [ 0-3]?\d \d\d:\d\d:\d\d"
                rb"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))")
_SYSLOG = (rb"(?:<\d{1,3}>)?" + _SYSLOG_TIME
           + rb" (?:\S+ [^\s:\[]+(?:\[\d+\])?:|(?:stdout|stderr) [FP]) ")
LINE_PREFIX = rb"(?:\xef\xbb\xbf(?:" + _SYSLOG + rb")?|" + _SYSLOG + rb")"
# taken whole where a line has one (never given back for its words to be read as fields)
_PREFIX = rb"(?:(?=(?P<prefix>" + LINE_PREFIX + rb"))(?P=prefix)|(?!" + LINE_PREFIX + rb"))"


def _seq(*names: str, tail: bytes = EXTRA_FIELDS) -> bytes:
    """Pieces separated by whitespace, after a line's prefix if it has one (LINE_PREFIX);
    extra trailing quoted fields are allowed."""
    return _PREFIX + rb"\s+".join(_PIECES[n] for n in names) + tail + rb"\s*"


_COMMON = ("host", "ident", "user", "time", "request", "status", "size")
_COMBINED = (*_COMMON[:-1], "size_timed", "referer", "agent")
COMMON = LogFormat("COMMON", "regex", _seq(*_COMMON))
COMBINED = LogFormat("COMBINED", "regex", _seq(*_COMBINED))
VCOMMON = LogFormat("VCOMMON", "regex", _seq("vhost", *_COMMON))
VCOMBINED = LogFormat("VCOMBINED", "regex", _seq("vhost", *_COMBINED))
# Each vhost format's reading where its vhost holds spaces, the ident then nginx's "-": Parser
# tries it where the one-word reading leaves an ident that is not "-"
SPACED_VHOST = {f.name: _compiled(_seq("spaced_vhost", *("no_ident" if n == "ident" else n
                                                         for n in names)))
                for f, names in ((VCOMMON, _COMMON), (VCOMBINED, _COMBINED))}
# Cloudflare Logpush's http_requests fields last (EdgeStartTimestamp: RFC 3339 or Unix s, ms or
# ns, as the job is set; its JSON was "no line parsed as JSON" whatever --log-format, a trial)
_JSON_FIELDS = {
    "time": ("ts", "time", "time_iso8601", "timestamp", "@timestamp", "StartUTC", "time_local",
             "msec", "date", "EdgeStartTimestamp"),
    # Caddy's client_ip before its remote_ip: the client behind trusted proxies (a CDN's
    # address had been every client's, a trial); the same address where there are none
    # (Google Cloud's load balancer logs: httpRequest's remoteIp, requestMethod, requestUrl,
    # userAgent, responseSize; its path, client and agent had been lost: a trial)
    "host": ("remote_addr", "client_ip", "remote_ip", "ClientHost", "ip", "clientip",
             "remoteIp", "ClientIP"),
    "status": ("status", "DownstreamStatus", "OriginStatus", "response", "code",
               "EdgeResponseStatus"),
    "size": ("size", "body_bytes_sent", "bytes_sent", "DownstreamContentSize", "bytes",
             "responseSize", "EdgeResponseBytes"),
    "method": ("method", "request_method", "RequestMethod", "requestMethod",
               "ClientRequestMethod"),
    "path": ("uri", "request_uri", "path", "RequestPath", "url", "requestUrl",
             "ClientRequestURI", "ClientRequestPath"),
    "request": ("request",),
    "agent": ("http_user_agent", "user_agent", "User-Agent", "request_User-Agent", "agent",
              "useragent", "userAgent", "ClientRequestUserAgent"),
    "vhost": ("host", "server_name", "RequestHost", "vhost", "http_host", "ClientRequestHost"),
}
JSON = LogFormat("JSON", "json", time_style="auto", json_fields=_JSON_FIELDS)
CADDY = LogFormat("CADDY", "json", time_style="auto", json_fields=_JSON_FIELDS)
TRAEFIK = LogFormat("TRAEFIK", "json", time_style="auto", json_fields=_JSON_FIELDS)
W3C = LogFormat("W3C", "w3c", time_style="w3c")

# Load balancers' and proxies' own layouts (GoAccess reads the AWS ones too). A client written
# with its port ("192.0.2.1:2817", "[2001:db8::1]:2817"); an absolute URL's scheme and host left
# out of the path ("GET http://www.example.com:80/a?b HTTP/1.1": its path /a)
_ADDR_PORT = rb"(?P<host>\[[^\]\s]*\]|[^\s\[]+?)(?::\d+)?"
_ISO = rb"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
_URL_REQUEST = (rb'"(?P<request>(?P<method>[A-Z-]+)\s+(?:[a-zA-Z][\w+.-]*://[^/\s"]*)?'
                rb'(?P<path>[^\s"]*)[^"]*)"')
_ELB_TAIL = (rb"\s+\S+\s+\S+\s+\S+\s+\S+\s+" + _PIECES["status"] + rb"\s+\S+\s+\S+\s+"
             + _PIECES["size"] + rb"\s+" + _URL_REQUEST + rb"\s+" + _PIECES["agent"] + rb".*")
# the load balancer's name is the site: an AWS log file is named for its five minutes
AWSELB = LogFormat("AWSELB", "regex", _ISO + rb"\s+(?P<vhost>[^\s,]+)\s+" + _ADDR_PORT + _ELB_TAIL)
AWSALB = LogFormat("AWSALB", "regex", rb"(?:https?|h2|grpcs?|wss?)\s+" + _ISO
                   + rb"\s+(?P<vhost>[^\s,]+)\s+" + _ADDR_PORT + _ELB_TAIL)
# S3 server access logs: the bucket is the site
AWSS3 = LogFormat("AWSS3", "regex", rb"\S+\s+(?P<vhost>[^\s,]+)\s+" + _TIME_CLF + rb"\s+"
                  + _PIECES["host"] + rb"(?:\s+\S+){4}\s+" + _URL_REQUEST + rb"\s+"
                  + _PIECES["status"] + rb"\s+\S+\s+" + _PIECES["size"] + rb"(?:\s+\S+){3}\s+"
                  + _PIECES["referer"] + rb"\s+" + _PIECES["agent"] + rb".*")
# HAProxy's HTTP log (option httplog), after a syslog prefix or none (log stdout format raw); its
# accept date carries no offset (read as the line before's, as a CLF line without one); a
# request it aborted has the status -1 (counted with no status class)
# The prefix: any syslog's (BSD, RFC 5424's `<134>1 TIME HOST haproxy PID - - `), whose ISO time
# states the offset the accept date lacks: read without it, a log forwarded with RFC 3339 times
# at +01:00 was counted an hour off (a trial)
HAPROXY = LogFormat("HAPROXY", "regex", rb"(?:(?:<\d{1,3}>\d?\s*)?(?:\d{4}-\d\d-\d\dT\d\d:\d\d"
                    rb":\d\d(?:\.\d+)?(?P<zone>Z|[+-]\d\d:?\d\d)\s+)?.*?\s+"
                    rb"(?=\S+:\d+\s+\[\d\d/))?" + _ADDR_PORT
                    + rb"\s+\[(?P<time>\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d)(?:\.\d+)?\]"
                    + rb"(?:\s+\S+){3}\s+(?P<status>-?\d+)\s+\+?(?P<size>\d+)\s.*?"
                    + rb'"(?P<request>[^"]*)"?\s*')  # "<BADREQ>" too: a request

PRESETS: dict[str, LogFormat] = {f.name: f for f in (
    COMBINED, VCOMBINED, COMMON, VCOMMON, JSON, CADDY, TRAEFIK, W3C, AWSELB, AWSALB, AWSS3,
    HAPROXY)}
PRESETS["NCSA"] = COMBINED
PRESETS["IIS"] = W3C
PRESETS["CLOUDFRONT"] = W3C  # its standard logs carry their #Fields: header
PRESETS["TRAEFIKCLF"] = COMBINED  # its extra fields after the agent are left
DETECT_ORDER = (VCOMBINED, COMBINED, VCOMMON, COMMON, JSON, W3C, AWSALB, AWSELB, AWSS3, HAPROXY)

# GoAccess spec specifiers -> pieces (%^ skips a field).
_GOACCESS = {
    "%h": _PIECES["host"], "%v": _PIECES["vhost"], "%^": rb".*?", "%r": rb"(?P<request>.*?)",
    "%m": rb"(?P<method>[A-Z]+)", "%U": rb"(?P<path>\S+)", "%H": rb"\S+", "%q": rb"\S*",
    "%s": rb"(?P<status>\d{3}|-)", "%b": rb"(?P<size>\d{1,18}|-)", "%R": rb"(?P<referer>(?:[^\"\\]|\\.)*)",
    "%u": rb"(?P<agent>(?:[^\"\\]|\\.)*)", "%x": rb"(?P<time>[^\]\"]+?)", "%T": rb"\S+", "%D": rb"\S+",
    "%L": rb"\S+", "%e": rb"\S+", "%C": rb"\S+", "%K": rb"\S+", "%k": rb"\S+", "%M": rb"\S+",
}
# nginx variables -> pieces.
_NGINX = {
    "remote_addr": _PIECES["host"], "binary_remote_addr": _PIECES["host"],
    "http_x_forwarded_for": rb"(?:\S+|[^\"]*?)",
    "proxy_add_x_forwarded_for": rb"(?:\S+|[^\"]*?)", "remote_user": rb"\S+",
    "time_local": rb"(?P<time>\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})",
    "time_iso8601": rb"(?P<iso>\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)",
    "msec": rb"(?P<epoch>\d{9,11}(?:\.\d+)?)", "request": rb"(?P<request>.*?)",
    "status": rb"(?P<status>\d{3}|-)", "body_bytes_sent": rb"(?P<size>\d{1,18}|-)",
    "bytes_sent": rb"(?P<size>\d{1,18}|-)", "http_referer": rb"(?P<referer>(?:[^\"\\]|\\.)*)",
    "http_user_agent": rb"(?P<agent>(?:[^\"\\]|\\.)*)", "host": _PIECES["vhost"],
    "server_name": _PIECES["vhost"], "request_method": rb"(?P<method>[A-Z]+)",
    "request_uri": rb"(?P<path>\S+)", "uri": rb"(?P<path>\S+)",
}
# A forwarded list as the client: its first address, the rest (as the client wrote them: any
# text) skipped. The skip starts at a comma or a space, so a client cut shorter never matches.
_FORWARDED_CLIENT = rb'(?P<host>[^\s,"]+)(?:[,\s][^"]*?)?'
# Apache LogFormat directives -> pieces.
_APACHE = {
    "%h": _PIECES["host"], "%a": _PIECES["host"], "%l": rb"\S+", "%u": rb"\S+",
    "%t": _TIME_CLF, "%r": rb"(?P<request>.*?)", "%>s": rb"(?P<status>\d{3}|-)",
    "%s": rb"(?P<status>\d{3}|-)", "%b": rb"(?P<size>\d{1,18}|-)", "%B": rb"(?P<size>\d{1,18})",
    "%{Referer}i": rb"(?P<referer>(?:[^\"\\]|\\.)*)", "%{User-Agent}i": rb"(?P<agent>(?:[^\"\\]|\\.)*)",
    "%v": _PIECES["vhost"], "%V": _PIECES["vhost"], "%p": rb"\d+", "%D": rb"\d+", "%T": rb"\d+",
    "%m": rb"(?P<method>[A-Z]+)", "%U": rb"(?P<path>\S+)", "%q": rb"\S*", "%H": rb"\S+",
    "%I": rb"\d+", "%O": rb"\d+", "%X": rb"\S", "%k": rb"\d+", "%P": rb"\d+",
}


class FormatError(ValueError):
    """A --log-format that cannot be understood; the message says which part and why."""


def _literal(text: str) -> bytes:
    return re.sub(rb"\\ ", rb"\\s+", re.escape(text.encode()))


def _compile_tokens(spec: str, table: dict[str, bytes], token_rx: str, name: str) -> bytes:
    out, pos, seen = [], 0, set()
    for m in re.finditer(token_rx, spec):
        out.append(_literal(spec[pos:m.start()]))
        tok = m.group(0)
        piece = table.get(tok) or table.get(tok.lstrip("$"))
        if piece is None:
            piece = rb"\S+" if not tok.startswith("%{") else rb"(?:[^\"]*?)"
        for g in re.findall(rb"\?P<(\w+)>", piece):
            if g in seen:  # a field named twice: keep the first capture
                piece = piece.replace(b"?P<" + g + b">", b"?:")
            seen.add(g)
        out.append(piece)
        pos = m.end()
    out.append(_literal(spec[pos:]))
    pattern = b"".join(out)
    if b"?P<time>" not in pattern and b"?P<iso>" not in pattern and b"?P<epoch>" not in pattern \
            and b"?P<date>" not in pattern:
        raise FormatError(f"{name} format {spec!r} has no time field: trafficwatch counts per hour")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise FormatError(f"cannot compile {name} format {spec!r}: {exc}") from exc
    return pattern + rb"\s*"


_STRFTIME = {"Y": rb"\d{4}", "y": rb"\d\d", "m": rb"\d{1,2}", "d": rb"\d{1,2}", "e": rb" ?\d{1,2}",
             "H": rb"\d{1,2}", "I": rb"\d{1,2}", "M": rb"\d{1,2}", "S": rb"\d{1,2}",
             "f": rb"\d+", "j": rb"\d{1,3}", "b": rb"[A-Za-z]+", "h": rb"[A-Za-z]+",
             "B": rb"[A-Za-z]+", "a": rb"[A-Za-z]+", "A": rb"[A-Za-z]+", "p": rb"[AaPp][Mm]",
             "z": rb"(?:Z|[+-]\d\d:?\d\d)", "Z": rb"[A-Za-z]+", "T": rb"\d\d:\d\d:\d\d",
             "R": rb"\d\d:\d\d", "F": rb"\d{4}-\d\d-\d\d", "D": rb"\d\d/\d\d/\d\d", "%": rb"%"}


def _strftime_piece(form: str) -> bytes:
    """A regex group `date` for a time written by strftime's `form` (Apache's `%{form}t`)."""
    out = []
    for m in re.finditer(r"%(.)|([^%]+)", form):
        out.append(_STRFTIME.get(m.group(1), rb"\S+?") if m.group(1) else
                   re.escape(m.group(2).encode()))
    return rb"(?P<date>" + b"".join(out) + rb")"


def get_format(spec: str | None, *, date_format: str | None = None,
               time_format: str | None = None) -> LogFormat:
    """A preset name, GoAccess spec, nginx log_format ($...) or Apache LogFormat (%h ...)."""
    if spec is None or not spec.strip():
        return COMBINED
    key = spec.strip().upper()
    if key in PRESETS:
        return PRESETS[key]
    if "$" in spec:
        table = _NGINX
        if not re.search(r"\$(?:binary_)?remote_addr\b", spec):  # behind a proxy: the client
            # is the first address of the forwarded list
            table = {**_NGINX, "http_x_forwarded_for": _FORWARDED_CLIENT,
                     "proxy_add_x_forwarded_for": _FORWARDED_CLIENT}
        pattern = _compile_tokens(spec, table, r"\$\w+", "nginx")
        return LogFormat("nginx:" + spec, "regex", pattern, time_style="auto")
    if re.search(r"%>s|%\{[^}]+\}[itCeno]|%[lO]\b", spec) or "%t" in spec and "%d" not in spec:
        spec = spec.replace('\\"', '"')  # LogFormat strings escape their quotes
        table, stamp = dict(_APACHE), None
        for m in re.finditer(r"%\{([^}]*)\}t", spec):  # the time in a form of its own: read,
            # not "has no time field" (a trial's `[%{%Y-%m-%d %H:%M:%S}t]`, `%{msec}t`)
            inner = m.group(1).removeprefix("begin:").removeprefix("end:")
            if inner in ("sec", "msec", "usec"):
                table[m.group(0)] = rb"(?P<epoch>\d{9,19})"
            elif inner in ("msec_frac", "usec_frac"):
                table[m.group(0)] = rb"\d+"
            else:
                table[m.group(0)], stamp = _strftime_piece(inner), inner
        pattern = _compile_tokens(spec, table, r"%\{[^}]*\}[a-zA-Z]|%>?[a-zA-Z]", "Apache")
        return LogFormat("apache:" + spec, "regex", pattern, time_style="auto",
                         date_format=stamp, time_format=None if stamp is None else "")
    if "%d" in spec or "%t" in spec or "%x" in spec:
        table = dict(_GOACCESS)
        if (not date_format or not time_format) and "%x" not in spec:
            raise FormatError("a GoAccess spec with %d/%t needs --date-format and --time-format "
                              "(e.g. --date-format %d/%b/%Y --time-format %T)")
        table["%d"] = rb"(?P<date>[^\s\[\]\"]+?)"
        table["%t"] = rb"(?P<clock>[^\s\[\]\"]+?)"
        pattern = _compile_tokens(spec, table, r"%\^|%[a-zA-Z]", "GoAccess")
        return LogFormat("goaccess:" + spec, "regex", pattern, time_style="strptime",
                         date_format=date_format, time_format=time_format)
    raise FormatError(f"unknown log format {spec!r}: use a name ({', '.join(sorted(PRESETS))}), "
                      "a GoAccess spec, an nginx log_format or an Apache LogFormat")
