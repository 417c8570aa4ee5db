# ANCHOR: program
# 07-address-notes.py: the notes' address tables, asked of Python's ipaddress module.
# Run: python3 07-address-notes.py 10.1.2.3 127.0.0.1 8.8.8.8 ...
import ipaddress
import sys

# ANCHOR: classes
# The historical classes, by the leading bits of the first octet (before CIDR, 1993).
CLASSES = [(0x80, 0x00, "A"), (0xC0, 0x80, "B"), (0xE0, 0xC0, "C"), (0xF0, 0xE0, "D")]


def address_class(ip):
    if ip.version != 4:
        return "-"
    first = ip.packed[0]
    return next((name for mask, bits, name in CLASSES if first & mask == bits), "E")
# ANCHOR_END: classes


# ANCHOR: flags
print(f"{'address':<18} class  private  loopback  link-local  multicast  global")
for text in sys.argv[1:]:
    ip = ipaddress.ip_address(text)
    flags = [ip.is_private, ip.is_loopback, ip.is_link_local, ip.is_multicast, ip.is_global]
    cells = [("yes" if flag else "no") for flag in flags]
    print(f"{text:<18} {address_class(ip):<6} {cells[0]:<8} {cells[1]:<9} "
          f"{cells[2]:<11} {cells[3]:<10} {cells[4]}")
# ANCHOR_END: flags
# ANCHOR_END: program
