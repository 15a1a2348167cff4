"""Fixed word pools the generator draws from (module constants, so generation does no per-record setup)."""

# Supplier names are "<lead> <trade> <suffix>", e.g. "Hartmann Castings Inc.".
NAME_LEADS = (
    "Hartmann", "Great Lakes", "Buckeye", "Miami Valley", "Keystone", "Allegheny", "Summit", "Lakeshore",
    "Ironbridge", "Tri-County", "Heartland", "Cardinal", "Riverside", "Northfield", "Prairie", "Maumee",
    "Cuyahoga", "Wabash", "Ohio Valley", "Midwest", "Pioneer", "Liberty", "Frontier", "Granite",
    "Blue Ash", "Sycamore", "Brookfield", "Westlake", "Eastgate", "Harbor", "Kessler", "Novak",
    "Lindqvist", "Brennan", "Castellano", "Whitfield", "Okafor", "Delgado", "Ramsey", "Vandermeer",
    "Schuster", "Pruitt", "Calloway", "Hollister", "Marchetti", "Yoder", "Stoltzfus", "Kowalczyk",
    "Abernathy", "Fairbanks", "Precision", "Apex", "Vanguard", "Sterling", "Atlas", "Titan", "Meridian",
    "Crescent", "Beacon", "Patriot", "Continental", "United", "American", "National", "Central States",
    "Four Rivers", "Red Oak", "Silver Creek", "Stonebridge", "Copperhead", "Ridgeway", "Clearwater",
)
NAME_TRADES = (
    "Castings", "Forge", "Fasteners", "Bearings", "Steel Supply", "Aluminum", "Plastics", "Tool & Die",
    "Machining", "Hydraulics", "Pneumatics", "Industrial Supply", "Electric", "Controls", "Packaging",
    "Pallet", "Freight Lines", "Logistics", "Trucking", "Welding Supply", "Abrasives", "Coatings",
    "Paint & Finishing", "Chemical", "Lubricants", "Safety Products", "Uniform Service", "Maintenance",
    "Mechanical", "Automation", "Springs", "Wire & Cable", "Rubber Products", "Gaskets & Seals",
    "Metal Stamping", "Heat Treating", "Powder Coating", "Foundry", "Precision Grinding", "Laser Cutting",
    "Electrical Contractors", "HVAC Services", "Crane & Rigging", "Scale & Calibration", "Office Products",
    "Janitorial", "Waste Services", "Propane", "Staffing", "Engineering",
)
NAME_SUFFIXES = ("Inc.", "LLC", "Co.", "Corp.", "Ltd", "Company", "Group", "Industries", "& Sons", "Supply Co.")

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Chris", "Karen",
    "Daniel", "Lisa", "Matthew", "Nancy", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley",
    "Paul", "Kimberly", "Andrew", "Emily", "Joshua", "Donna", "Kevin", "Michelle", "Brian", "Carol",
    "Jo", "Pat", "Terry", "Dana", "Luis", "Maria", "Wei", "Priya", "Olga", "Kenji", "Fatima", "Tomasz",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter",
    "Kowalski", "Nguyen", "Patel", "Schmidt", "Novak", "Chen", "Ivanova", "Tanaka", "Haddad", "Murphy",
)

# (city, state, ZIP prefix, phone area code)
CITIES = (
    ("Dayton", "OH", "454", "937"), ("Columbus", "OH", "432", "614"), ("Cincinnati", "OH", "452", "513"),
    ("Cleveland", "OH", "441", "216"), ("Toledo", "OH", "436", "419"), ("Akron", "OH", "443", "330"),
    ("Fort Wayne", "IN", "468", "260"), ("Indianapolis", "IN", "462", "317"), ("Lafayette", "IN", "479", "765"),
    ("Detroit", "MI", "482", "313"), ("Grand Rapids", "MI", "495", "616"), ("Lansing", "MI", "489", "517"),
    ("Pittsburgh", "PA", "152", "412"), ("Erie", "PA", "165", "814"), ("Louisville", "KY", "402", "502"),
    ("Lexington", "KY", "405", "859"), ("Chicago", "IL", "606", "312"), ("Rockford", "IL", "611", "815"),
    ("Peoria", "IL", "616", "309"), ("Milwaukee", "WI", "532", "414"), ("Green Bay", "WI", "543", "920"),
    ("St. Louis", "MO", "631", "314"), ("Nashville", "TN", "372", "615"), ("Charlotte", "NC", "282", "704"),
    ("Houston", "TX", "770", "713"), ("Wichita", "KS", "672", "316"), ("Omaha", "NE", "681", "402"),
)
STREET_NAMES = (
    "Foundry Rd", "Industrial Pkwy", "Commerce Dr", "Main St", "Mill St", "Factory Ave", "Enterprise Blvd",
    "Progress Way", "Valley Pike", "Rail Yard Rd", "Harbor Dr", "Steel Ave", "Technology Ct", "Airport Rd",
    "River Rd", "Canal St", "Quarry Ln", "Depot St", "Market St", "Union Ave", "Kettering Blvd",
    "Springboro Pike", "Lincoln Hwy", "Route 35", "Executive Dr", "Gateway Blvd", "Corporate Cir",
)
LINE2 = ("Suite 100", "Suite 210", "Building B", "Dock 4", "Unit 7", "Floor 2")

# (code, name, class) — the JAGGAER GL chart of the generated company. class: "cogs" or "expense".
GL_CHART = (
    ("5000", "Cost of goods sold", "cogs"),
    ("5100", "Direct materials", "cogs"),
    ("5200", "Contract labor", "cogs"),
    ("5300", "Subcontracted machining", "cogs"),
    ("5400", "Tooling & dies", "cogs"),
    ("5500", "Packaging materials", "cogs"),
    ("6100", "Raw materials", "expense"),
    ("6150", "Shop supplies & consumables", "expense"),
    ("6200", "Freight in", "expense"),
    ("6250", "Freight out", "expense"),
    ("6300", "Utilities", "expense"),
    ("6400", "Maintenance & repairs", "expense"),
    ("6450", "Equipment rental", "expense"),
    ("6500", "Safety & PPE", "expense"),
    ("6600", "Office supplies", "expense"),
    ("6700", "Professional services", "expense"),
    ("6800", "IT & software", "expense"),
    ("6850", "Calibration services", "expense"),
    ("6900", "Travel", "expense"),
    ("6950", "Insurance", "expense"),
)
GL_RETIRED = ("6650", "Postage & courier", "expense")    # inactive in JAGGAER
# QBO side of the chart: which codes match only by name, which one QBO lacks, which one QBO has inactive.
GL_QBO_NAME_ONLY = ("6300", "6900")
GL_QBO_MISSING = "6850"
GL_QBO_INACTIVE = "6450"
QBO_ACCOUNT_SUBTYPE = {
    "5000": "SuppliesMaterialsCogs", "5100": "SuppliesMaterialsCogs", "5200": "CostOfLaborCos",
    "5300": "OtherCostsOfServiceCos", "5400": "EquipmentRentalCos", "5500": "SuppliesMaterialsCogs",
    "6100": "SuppliesMaterials", "6150": "SuppliesMaterials", "6200": "ShippingFreightDelivery",
    "6250": "ShippingFreightDelivery", "6300": "Utilities", "6400": "RepairMaintenance",
    "6450": "EquipmentRental", "6500": "SuppliesMaterials", "6600": "OfficeGeneralAdministrativeExpenses",
    "6700": "LegalProfessionalFees", "6800": "OfficeGeneralAdministrativeExpenses",
    "6850": "LegalProfessionalFees", "6900": "Travel", "6950": "Insurance", "6650": "ShippingFreightDelivery",
}

# What each trade sells: (GL code, [(description, unit price low, unit price high in cents)]).
TRADE_ITEMS = {
    "Castings": ("5100", (("Grey iron casting", 4500, 18000), ("Ductile iron housing", 9000, 32000),
                          ("Aluminum die casting", 1200, 6500))),
    "Forge": ("5100", (("Forged steel flange", 3500, 22000), ("Forged crankshaft blank", 15000, 60000))),
    "Fasteners": ("6100", (("Hex bolt M12x50, box of 100", 1800, 4200), ("Lock washers, box of 500", 900, 2500),
                           ("Socket head cap screw M8", 15, 90))),
    "Bearings": ("6400", (("Tapered roller bearing", 2500, 14000), ("Pillow block bearing", 3800, 9500))),
    "Steel Supply": ("6100", (("Hot rolled steel plate 1/2in", 22000, 98000), ("Cold drawn bar 1018", 4000, 19000),
                              ("A36 angle 2x2x1/4, 20ft", 3100, 7600))),
    "Aluminum": ("6100", (("6061-T6 aluminum sheet", 8000, 42000), ("Aluminum extrusion 6063", 2500, 12000))),
    "Plastics": ("6100", (("HDPE pellets, 50 lb bag", 4500, 9000), ("Nylon 6/6 rod", 1800, 7500))),
    "Tool & Die": ("5400", (("Progressive die rework", 150000, 900000), ("Carbide insert set", 4500, 21000))),
    "Machining": ("5300", (("CNC machining, batch", 40000, 350000), ("Turned shaft, per piece", 1500, 9000))),
    "Hydraulics": ("6400", (("Hydraulic cylinder reseal kit", 8500, 36000), ("Hydraulic hose assembly", 2500, 11000))),
    "Pneumatics": ("6400", (("Pneumatic valve 5/2", 6500, 24000), ("Air cylinder", 5500, 31000))),
    "Industrial Supply": ("6150", (("Cutting fluid, 55 gal drum", 45000, 89000), ("Shop rags, 50 lb", 3500, 6900),
                                   ("Grinding wheels, case", 8000, 21000))),
    "Electric": ("6400", (("Motor starter", 12000, 48000), ("VFD 10HP", 95000, 210000))),
    "Controls": ("6400", (("PLC I/O module", 35000, 120000), ("Proximity sensor", 4500, 15000))),
    "Packaging": ("5500", (("Corrugated cartons 24x18x12", 90, 350), ("Stretch film, case", 6500, 12500))),
    "Pallet": ("5500", (("GMA pallet 48x40", 900, 2400), ("Heat-treated crate", 8500, 26000))),
    "Freight Lines": ("6200", (("LTL freight inbound", 18000, 120000), ("Fuel surcharge", 1500, 9000))),
    "Logistics": ("6200", (("Truckload freight inbound", 95000, 380000), ("Detention charge", 7500, 30000))),
    "Trucking": ("6250", (("Outbound truckload", 85000, 320000), ("Liftgate service", 7500, 15000))),
    "Welding Supply": ("6150", (("ER70S-6 welding wire, 33 lb", 6500, 11000), ("Argon cylinder rental", 1500, 4500))),
    "Abrasives": ("6150", (("Flap discs, box of 10", 3500, 9000), ("Sanding belts, case", 6000, 14000))),
    "Coatings": ("6100", (("Epoxy primer, 5 gal", 18000, 42000), ("Zinc plating service", 25000, 140000))),
    "Paint & Finishing": ("6100", (("Industrial enamel, 5 gal", 14000, 36000), ("Powder coat, per rack", 9000, 45000))),
    "Chemical": ("6150", (("Degreaser concentrate, drum", 38000, 79000), ("Phosphate wash", 21000, 55000))),
    "Lubricants": ("6400", (("Hydraulic oil AW46, drum", 52000, 98000), ("Way oil, 5 gal", 9000, 19000))),
    "Safety Products": ("6500", (("Safety glasses, box of 12", 2800, 7200), ("Cut-resistant gloves, dozen", 3600, 9800),
                                 ("Hearing protection, case", 4200, 11000))),
    "Uniform Service": ("6500", (("Uniform rental, weekly", 18000, 64000), ("Shop towel service", 6500, 16000))),
    "Maintenance": ("6400", (("Preventive maintenance visit", 45000, 180000),
                             ("Emergency repair call", 65000, 320000))),
    "Mechanical": ("6400", (("Gearbox rebuild", 120000, 560000), ("Conveyor belt replacement", 85000, 340000))),
    "Automation": ("6400", (("Robot cell service", 150000, 650000), ("Servo drive", 95000, 280000))),
    "Springs": ("5100", (("Compression spring", 35, 450), ("Torsion spring", 90, 900))),
    "Wire & Cable": ("6400", (("THHN wire 12 AWG, 500 ft", 6500, 14000), ("Cable tray section", 4500, 13000))),
    "Rubber Products": ("5100", (("Molded rubber grommet", 25, 180), ("EPDM gasket strip", 1200, 5600))),
    "Gaskets & Seals": ("6400", (("O-ring kit", 3500, 9000), ("Mechanical seal", 18000, 64000))),
    "Metal Stamping": ("5300", (("Stamped bracket", 80, 900), ("Deep drawn cup", 150, 1400))),
    "Heat Treating": ("5300", (("Heat treat, per load", 35000, 160000), ("Induction hardening", 12000, 68000))),
    "Powder Coating": ("5300", (("Powder coating, per lot", 25000, 140000),)),
    "Foundry": ("5100", (("Sand casting, per lb", 180, 600), ("Pattern repair", 45000, 190000))),
    "Precision Grinding": ("5300", (("Centerless grinding, per piece", 250, 1800),)),
    "Laser Cutting": ("5300", (("Laser cut blanks, per sheet", 4500, 26000),)),
    "Electrical Contractors": ("6400", (("Electrical installation labor", 85000, 650000),)),
    "HVAC Services": ("6400", (("HVAC quarterly service", 65000, 240000), ("Filter replacement", 9000, 34000))),
    "Crane & Rigging": ("6450", (("Crane rental, daily", 120000, 380000), ("Rigging crew, hourly", 9500, 16500))),
    "Scale & Calibration": ("6850", (("Gauge calibration", 4500, 22000), ("Scale certification", 18000, 56000))),
    "Office Products": ("6600", (("Copy paper, case", 3800, 6200), ("Toner cartridge", 8500, 24000))),
    "Janitorial": ("6400", (("Janitorial service, monthly", 180000, 650000), ("Floor scrubber pads", 4500, 9000))),
    "Waste Services": ("6300", (("Scrap metal haul-away", 25000, 95000), ("Dumpster service, monthly", 45000, 120000))),
    "Propane": ("6300", (("Forklift propane cylinders", 2200, 3600), ("Bulk propane delivery", 65000, 240000))),
    "Staffing": ("5200", (("Temporary production labor, weekly", 120000, 640000),)),
    "Engineering": ("6700", (("Engineering services, hourly", 12500, 22500), ("Fixture design", 250000, 900000))),
}

# The plants of the company; a department's name is "Plant <n> - <city>".
PLANT_CITIES = (
    "Columbus", "Dayton", "Fort Wayne", "Toledo", "Louisville", "Grand Rapids", "Erie", "Peoria",
    "Rockford", "Lansing", "Akron", "Wichita", "Omaha", "Nashville", "Charlotte", "Green Bay",
)
PAYMENT_TERMS = (("Net 30", 30), ("Net 30", 30), ("Net 30", 30), ("Net 15", 15), ("Due on receipt", 0),
                 ("Net 45", 45))
TERM_DAYS = {"Net 30": 30, "Net 15": 15, "Due on receipt": 0, "Net 45": 45, "2% 10 Net 30": 30, "Net 60": 60}
