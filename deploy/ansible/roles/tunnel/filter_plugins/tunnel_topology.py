"""Peers of one tunnel interface, built from the inventory.

tunnel_peers(iface, host, hostvars, hosts) returns, for `host`, one dict per
peer on interface `iface` (a tunnel_interfaces item): name, public_key,
endpoint, allowed_ips and, when the interface uses preshared keys, the
tunnel_preshared_keys entry naming the pair. Members are the hosts that have
addresses for the interface; a mesh peers every member with every other, a
hub topology peers spokes with the hubs only and gives the first hub the
interface's networks, so spoke-to-spoke traffic goes through it.
"""

from ansible.errors import AnsibleFilterError


def _host_prefix(address):
    addr = str(address).split("/", 1)[0]
    return addr + ("/128" if ":" in addr else "/32")


def _endpoint(hv, name, port):
    host = hv.get("tunnel_endpoint") or hv.get("ansible_host") or name
    return ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))


def pair_key_name(iface_name, a, b):
    """The tunnel_preshared_keys entry of a pair: IFNAME:HOST_A:HOST_B, host names sorted."""
    return ":".join([iface_name] + sorted([a, b]))


def tunnel_members(iface, hostvars, hosts):
    name = iface["name"]
    return [h for h in hosts if name in (hostvars[h].get("tunnel_addresses") or {})]


def _peer_names(iface, host, hostvars, hosts):
    name = iface["name"]
    topology = iface.get("topology", "mesh")
    hubs = list(iface.get("hubs") or [])
    members = tunnel_members(iface, hostvars, hosts)
    if host not in members:
        return []
    if topology == "hub":
        if not hubs:
            raise AnsibleFilterError("tunnel_interfaces[%s]: topology hub needs hubs" % name)
        missing = [h for h in hubs if h not in members]
        if missing:
            raise AnsibleFilterError("tunnel_interfaces[%s]: hubs %s have no tunnel_addresses.%s (or are not in this play)" % (name, missing, name))
        others = [h for h in members if h != host] if host in hubs else [h for h in hubs if h != host]
    elif topology == "mesh":
        others = [h for h in members if h != host]
    else:
        raise AnsibleFilterError("tunnel_interfaces[%s]: unknown topology %r" % (name, topology))
    return others


def tunnel_peers(iface, host, hostvars, hosts):
    name = iface["name"]
    port = int(iface["listen_port"])
    topology = iface.get("topology", "mesh")
    hubs = list(iface.get("hubs") or [])
    peers = []
    for peer in _peer_names(iface, host, hostvars, hosts):
        hv = hostvars[peer]
        public_key = (hv.get("tunnel_public_keys") or {}).get(name)
        if not public_key:
            raise AnsibleFilterError(
                "%s: no public key for %s on %s; run the role on every member of the interface in one play" % (host, peer, name)
            )
        allowed = [_host_prefix(a) for a in hv["tunnel_addresses"][name]]
        allowed += list((hv.get("tunnel_routed_prefixes") or {}).get(name, []))
        if topology == "hub" and host not in hubs and peer == hubs[0]:
            allowed += [p for p in iface.get("networks") or [] if p not in allowed]
        entry = {
            "name": peer,
            "public_key": public_key,
            "endpoint": _endpoint(hv, peer, port),
            "allowed_ips": allowed,
        }
        if iface.get("preshared_keys"):
            entry["psk_name"] = pair_key_name(name, host, peer)
        peers.append(entry)
    return peers


def tunnel_psk_files(interfaces, host, hostvars, hosts):
    """The preshared key files `host` needs: [{interface, peer, psk_name}]."""
    out = []
    for iface in interfaces:
        if not iface.get("preshared_keys"):
            continue
        for peer in _peer_names(iface, host, hostvars, hosts):
            out.append({"interface": iface["name"], "peer": peer, "psk_name": pair_key_name(iface["name"], host, peer)})
    return out


class FilterModule(object):
    def filters(self):
        return {"tunnel_peers": tunnel_peers, "tunnel_members": tunnel_members, "tunnel_psk_files": tunnel_psk_files}
