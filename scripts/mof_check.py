#!/usr/bin/env python3
"""Compile inf/logbridge.mof with pywbem's MOF compiler and print the class it defines as JSON.

Usage: mof_check.py [path/to/logbridge.mof] [ClassName]

pywbem knows nothing about the qualifiers Windows WMI adds (WMI, Dynamic, guid, WmiDataId, ...) or
about root\\wmi's `WMIEvent` base class, so a prelude declares them first, in a mock repository
(pywbem_mock.FakedWBEMConnection). A MOF syntax error, an undeclared qualifier, a qualifier of the
wrong type or in the wrong scope, or an unknown superclass makes the compiler fail; the script then
exits with status 1.

Output (stdout), read by tests/windows_artifacts.rs:
  {"classname": ..., "superclass": ..., "qualifiers": {name: value},
   "properties": [{"name", "type", "is_array", "qualifiers": {name: value}}, ...]}
Qualifier names are lowercased; properties are in declaration order, inherited ones included.
"""

import json
import os
import sys

NAMESPACE = "root/wmi"

# Qualifier declarations for the WMI-specific qualifiers (and the standard ones LogBridge uses), and
# the WMIEvent base class as root\wmi has it (wmicore.mof): an empty class derived from the system
# class __ExtrinsicEvent, for which an empty stand-in is declared here.
PRELUDE = """
Qualifier Abstract : boolean = false, Scope(class, association, indication),
    Flavor(EnableOverride, Restricted);
Qualifier Description : string = null, Scope(any), Flavor(EnableOverride, ToSubclass, Translatable);
Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);
Qualifier Read : boolean = true, Scope(property), Flavor(EnableOverride, ToSubclass);
Qualifier Write : boolean = false, Scope(property), Flavor(EnableOverride, ToSubclass);
Qualifier WMI : boolean = false, Scope(class), Flavor(EnableOverride, ToSubclass);
Qualifier Dynamic : boolean = false, Scope(class), Flavor(EnableOverride, ToSubclass);
Qualifier Provider : string = null, Scope(class), Flavor(EnableOverride, ToSubclass);
Qualifier guid : string = null, Scope(class), Flavor(EnableOverride, Restricted);
Qualifier locale : string = null, Scope(class), Flavor(EnableOverride, Restricted);
Qualifier WmiDataId : uint32 = null, Scope(property), Flavor(EnableOverride, Restricted);
Qualifier WmiSizeIs : string = null, Scope(property), Flavor(EnableOverride, Restricted);
Qualifier WmiTimeStamp : boolean = false, Scope(property), Flavor(EnableOverride, Restricted);
Qualifier MaxLen : uint32 = null, Scope(property), Flavor(EnableOverride, ToSubclass);

[Abstract, Description("Stand-in for the WMI system class of extrinsic events")]
class __ExtrinsicEvent
{
};

[Abstract, Description("root\\\\wmi's base class of the events WMI data providers fire")]
class WMIEvent : __ExtrinsicEvent
{
};
"""


def jsonable(value):
    """Qualifier values as JSON: numbers, strings, booleans, lists."""
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):  # pywbem's CIMInt types derive from int
        return int(value)
    return str(value)


def qualifiers(qualifier_dict):
    return {name.lower(): jsonable(q.value) for name, q in qualifier_dict.items()}


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    path = argv[1] if len(argv) > 1 else os.path.join(here, "..", "inf", "logbridge.mof")
    classname = argv[2] if len(argv) > 2 else "LogBridge_WriteEvent"
    try:
        import pywbem_mock
    except ImportError as error:
        print(f"mof_check: pywbem is not installed: {error}", file=sys.stderr)
        return 2
    with open(path, encoding="utf-8") as source:
        mof = source.read()

    conn = pywbem_mock.FakedWBEMConnection(default_namespace=NAMESPACE)
    try:
        conn.compile_mof_string(PRELUDE, namespace=NAMESPACE)
        conn.compile_mof_string(mof, namespace=NAMESPACE)
        cls = conn.GetClass(classname, namespace=NAMESPACE, LocalOnly=False, IncludeQualifiers=True)
    except Exception as error:  # pywbem raises MOFCompileError, CIMError, MOFParseError, ...
        print(f"mof_check: {path}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1

    out = {
        "classname": cls.classname,
        "superclass": cls.superclass,
        "qualifiers": qualifiers(cls.qualifiers),
        "properties": [
            {
                "name": prop.name,
                "type": prop.type,
                "is_array": bool(prop.is_array),
                "qualifiers": qualifiers(prop.qualifiers),
            }
            for prop in cls.properties.values()
        ],
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
