"""Read a GEXF 1.3 file with networkx and print what it holds, as JSON.

Usage: gexf.py FILE.gexf

networkx 2.8 knows the GEXF 1.1 and 1.2 namespaces; 1.3 keeps the 1.2
elements under a new namespace and adds the dateTime time format, so the
reader is told both before it reads. Prints {"Nodes", "Edges", "Internal",
"Mode"}; exits 1 when an edge or node of a dynamic graph has no time.
"""

import json
import sys

from networkx.readwrite.gexf import GEXF, GEXFReader

GEXF.versions["1.3"] = {
    "NS_GEXF": "http://gexf.net/1.3",
    "NS_VIZ": "http://gexf.net/1.3/viz",
    "NS_XSI": "http://www.w3.org/2001/XMLSchema-instance",
    "SCHEMALOCATION": "http://gexf.net/1.3 http://gexf.net/1.3/gexf.xsd",
    "VERSION": "1.3",
}


def main():
    reader = GEXFReader(node_type=None, version="1.3")
    reader.python_type["dateTime"] = str
    g = reader(sys.argv[1])
    mode = g.graph.get("mode")
    if mode == "dynamic":
        for kind, items in (("node", g.nodes(data=True)), ("edge", g.edges(data=True))):
            for item in items:
                data = item[-1]
                if "start" not in data and "spells" not in data:
                    print(f"{kind} {item[:-1]} has no time interval", file=sys.stderr)
                    sys.exit(1)
    internal = sum(1 for _, d in g.nodes(data=True) if d.get("kind") == "internal")
    print(json.dumps({"Nodes": g.number_of_nodes(), "Edges": g.number_of_edges(), "Internal": internal, "Mode": mode}))


if __name__ == "__main__":
    main()
