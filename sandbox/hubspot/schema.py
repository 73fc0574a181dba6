"""Static HubSpot data the sandbox starts with: object types, default properties,
the default deal pipeline and the HUBSPOT_DEFINED association types.

Values follow HubSpot's documented defaults where they are known; option lists that
are very long in HubSpot (company ``industry``) are a representative subset.
"""

from __future__ import annotations

# name -> object type id
OBJECT_TYPE_IDS: dict[str, str] = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "products": "0-7",
    "line_items": "0-8",
    "notes": "0-46",
}
SINGULAR: dict[str, str] = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "products": "product",
    "line_items": "line_item",
    "notes": "note",
}
# Upper-case names used in some HubSpot messages ("Could not get some CONTACT objects").
UPPER: dict[str, str] = {k: v.upper() for k, v in SINGULAR.items()}

LAST_MODIFIED: dict[str, str] = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "products": "hs_lastmodifieddate",
    "line_items": "hs_lastmodifieddate",
    "notes": "hs_lastmodifieddate",
}

# Properties returned when a request names none (search guide; list/read use the same set).
DEFAULT_RETURNED: dict[str, list[str]] = {
    "contacts": ["firstname", "lastname", "email", "lastmodifieddate", "createdate",
                 "hs_object_id"],
    "companies": ["name", "domain", "hs_lastmodifieddate", "createdate", "hs_object_id"],
    "deals": ["dealname", "amount", "closedate", "pipeline", "dealstage", "hs_lastmodifieddate",
              "createdate", "hs_object_id"],
    "products": ["name", "description", "price", "hs_lastmodifieddate", "createdate",
                 "hs_object_id"],
    "line_items": ["quantity", "amount", "price", "hs_lastmodifieddate", "createdate",
                   "hs_object_id"],
    "notes": ["hs_timestamp", "hs_lastmodifieddate", "createdate", "hs_object_id"],
}

# Text properties a search ``query`` looks at (HubSpot searches a fixed set per object).
QUERY_PROPERTIES: dict[str, list[str]] = {
    "contacts": ["firstname", "lastname", "email", "phone", "company", "website"],
    "companies": ["name", "domain", "website", "phone"],
    "deals": ["dealname", "description"],
    "products": ["name", "description", "hs_sku", "price"],
    "line_items": ["name", "hs_sku", "description"],
    "notes": ["hs_note_body"],
}

GROUPS: dict[str, list[tuple[str, str]]] = {
    "contacts": [("contactinformation", "Contact information")],
    "companies": [("companyinformation", "Company information")],
    "deals": [("dealinformation", "Deal information")],
    "products": [("productinformation", "Product information")],
    "line_items": [("lineiteminformation", "Line item information")],
    "notes": [("noteinformation", "Note information")],
}

DEFAULT_PIPELINE_ID = "default"
DEFAULT_PIPELINE_LABEL = "Sales Pipeline"
# (id, label, probability)
DEFAULT_DEAL_STAGES: list[tuple[str, str, str]] = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
]

LIFECYCLE_STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("marketingqualifiedlead", "Marketing Qualified Lead"),
    ("salesqualifiedlead", "Sales Qualified Lead"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("evangelist", "Evangelist"),
    ("other", "Other"),
]

INDUSTRIES = [
    "ACCOUNTING", "AIRLINES_AVIATION", "ARCHITECTURE_PLANNING", "ARTS_AND_CRAFTS", "AUTOMOTIVE",
    "BANKING", "BIOTECHNOLOGY", "BROADCAST_MEDIA", "BUILDING_MATERIALS",
    "BUSINESS_SUPPLIES_AND_EQUIPMENT", "CIVIL_ENGINEERING", "COMPUTER_HARDWARE",
    "COMPUTER_SOFTWARE", "CONSTRUCTION", "CONSUMER_GOODS", "CONSUMER_SERVICES", "DESIGN",
    "E_LEARNING", "EDUCATION_MANAGEMENT", "ENTERTAINMENT", "ENVIRONMENTAL_SERVICES",
    "EVENTS_SERVICES", "FINANCIAL_SERVICES", "FOOD_BEVERAGES", "GOVERNMENT_ADMINISTRATION",
    "GRAPHIC_DESIGN", "HEALTH_WELLNESS_AND_FITNESS", "HOSPITAL_HEALTH_CARE",
    "HOSPITALITY", "HUMAN_RESOURCES", "INFORMATION_TECHNOLOGY_AND_SERVICES", "INSURANCE",
    "INTERNET", "INVESTMENT_MANAGEMENT", "LAW_PRACTICE", "LEGAL_SERVICES",
    "LOGISTICS_AND_SUPPLY_CHAIN",
    "MANAGEMENT_CONSULTING", "MARKETING_AND_ADVERTISING", "MEDIA_PRODUCTION", "MEDICAL_DEVICES",
    "NON_PROFIT_ORGANIZATION_MANAGEMENT", "ONLINE_MEDIA", "PHARMACEUTICALS", "PHOTOGRAPHY",
    "PUBLISHING", "REAL_ESTATE", "RESEARCH", "RESTAURANTS", "RETAIL", "STAFFING_AND_RECRUITING",
    "TELECOMMUNICATIONS", "TRANSPORTATION_TRUCKING_RAILROAD", "VENTURE_CAPITAL_PRIVATE_EQUITY",
    "WHOLESALE", "WRITING_AND_EDITING",
]

BILLING_FREQUENCIES = [
    ("weekly", "Weekly"),
    ("biweekly", "Biweekly"),
    ("monthly", "Monthly"),
    ("quarterly", "Quarterly"),
    ("per_six_months", "Semi-annually"),
    ("annually", "Annually"),
    ("per_two_years", "Every two years"),
    ("per_three_years", "Every three years"),
    ("per_four_years", "Every four years"),
    ("per_five_years", "Every five years"),
]


def _opts(pairs: list[tuple[str, str]]) -> list[dict]:
    return [{"label": label, "value": value, "displayOrder": i, "hidden": False}
            for i, (value, label) in enumerate(pairs)]


# A default property: (name, label, type, fieldType, extra)
# extra keys: options (list of (value, label)), read_only (bool)
_STR = ("string", "text")
_NUM = ("number", "number")
_DT = ("datetime", "date")
_DATE = ("date", "date")
_ENUM = ("enumeration", "select")


def _common(last_modified: str) -> list[tuple]:
    return [
        ("hs_object_id", "Record ID", *_NUM, {"read_only": True}),
        ("createdate", "Create Date", *_DT, {"read_only": True}),
        (last_modified, "Last Modified Date", *_DT, {"read_only": True}),
    ]


_MERGED = ("hs_merged_object_ids", "Merged record IDs", "enumeration", "checkbox",
           {"read_only": True})

DEFAULT_PROPERTIES: dict[str, list[tuple]] = {
    "contacts": [
        ("email", "Email", *_STR, {}),
        ("firstname", "First Name", *_STR, {}),
        ("lastname", "Last Name", *_STR, {}),
        ("phone", "Phone Number", "string", "phonenumber", {}),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", {}),
        ("company", "Company Name", *_STR, {}),
        ("website", "Website URL", *_STR, {}),
        ("address", "Street Address", *_STR, {}),
        ("city", "City", *_STR, {}),
        ("state", "State/Region", *_STR, {}),
        ("zip", "Postal Code", *_STR, {}),
        ("country", "Country/Region", *_STR, {}),
        ("jobtitle", "Job Title", *_STR, {}),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio",
         {"options": LIFECYCLE_STAGES}),
        *_common("lastmodifieddate"),
        _MERGED,
    ],
    "companies": [
        ("name", "Company name", *_STR, {}),
        ("domain", "Company Domain Name", *_STR, {}),
        ("website", "Website URL", *_STR, {}),
        ("phone", "Phone Number", "string", "phonenumber", {}),
        ("address", "Street Address", *_STR, {}),
        ("city", "City", *_STR, {}),
        ("state", "State/Region", *_STR, {}),
        ("zip", "Postal Code", *_STR, {}),
        ("country", "Country/Region", *_STR, {}),
        ("description", "Description", "string", "textarea", {}),
        ("industry", "Industry", *_ENUM,
         {"options": [(v, v.replace("_", " ").title()) for v in INDUSTRIES]}),
        ("numberofemployees", "Number of Employees", *_NUM, {}),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio",
         {"options": LIFECYCLE_STAGES}),
        *_common("hs_lastmodifieddate"),
        _MERGED,
    ],
    "deals": [
        ("dealname", "Deal Name", *_STR, {}),
        ("amount", "Amount", *_NUM, {}),
        ("dealstage", "Deal Stage", *_ENUM,
         {"options": [(s, label) for s, label, _ in DEFAULT_DEAL_STAGES]}),
        ("pipeline", "Pipeline", *_ENUM,
         {"options": [(DEFAULT_PIPELINE_ID, DEFAULT_PIPELINE_LABEL)]}),
        ("closedate", "Close Date", *_DT, {}),
        ("dealtype", "Deal Type", "enumeration", "radio",
         {"options": [("newbusiness", "New Business"), ("existingbusiness", "Existing Business")]}),
        ("description", "Deal Description", "string", "textarea", {}),
        *_common("hs_lastmodifieddate"),
        _MERGED,
    ],
    "products": [
        ("name", "Name", *_STR, {}),
        ("description", "Description", "string", "textarea", {}),
        ("price", "Unit price", *_NUM, {}),
        ("hs_sku", "SKU", *_STR, {}),
        ("hs_cost_of_goods_sold", "Unit cost", *_NUM, {}),
        ("hs_recurring_billing_period", "Term", *_STR, {}),
        ("recurringbillingfrequency", "Billing frequency", *_ENUM,
         {"options": BILLING_FREQUENCIES}),
        ("hs_product_type", "Product type", *_ENUM,
         {"options": [("inventory", "Inventory"), ("non_inventory", "Non-Inventory"),
                      ("service", "Service")]}),
        *_common("hs_lastmodifieddate"),
    ],
    "line_items": [
        ("name", "Name", *_STR, {}),
        ("description", "Description", "string", "textarea", {}),
        ("quantity", "Quantity", *_NUM, {}),
        ("price", "Unit price", *_NUM, {}),
        ("amount", "Net price", "number", "calculation_equation", {"read_only": True}),
        ("hs_product_id", "Product ID", *_NUM, {}),
        ("hs_sku", "SKU", *_STR, {}),
        ("hs_cost_of_goods_sold", "Unit cost", *_NUM, {}),
        ("hs_recurring_billing_period", "Term", *_STR, {}),
        ("recurringbillingfrequency", "Billing frequency", *_ENUM,
         {"options": BILLING_FREQUENCIES}),
        *_common("hs_lastmodifieddate"),
    ],
    # notes guide: hs_timestamp (required), hs_note_body (<= 65,536 characters),
    # hubspot_owner_id, hs_attachment_ids (";"-separated file ids)
    "notes": [
        ("hs_timestamp", "Activity date", *_DT, {}),
        ("hs_note_body", "Note body", "string", "html", {}),
        # HubSpot types both as enumerations of owners / files; the sandbox has neither
        # list, so it keeps them as text and does not check the ids.
        ("hubspot_owner_id", "Activity assigned to", *_STR, {}),
        ("hs_attachment_ids", "Attached file IDs", *_STR, {}),
        *_common("hs_lastmodifieddate"),
    ],
}

# Properties a create must set (HubSpot: 400 "Error creating NOTE.  Some required
# properties were not set." with context.properties, HubSpot/hubspot-api-nodejs#124).
REQUIRED_ON_CREATE: dict[str, list[str]] = {"notes": ["hs_timestamp"]}
NOTE_BODY_MAX = 65_536

# Values a line item copies from its product when not given.
LINE_ITEM_INHERITED = ["name", "price", "description", "hs_sku", "hs_cost_of_goods_sold",
                       "hs_recurring_billing_period", "recurringbillingfrequency"]


def default_options(pairs: list[tuple[str, str]]) -> list[dict]:
    return _opts(pairs)


# HUBSPOT_DEFINED association types: (from, to) -> [(typeId, label)] ; first = default
# (unlabeled), a labelled one is the "Primary" type.
ASSOCIATION_TYPES: dict[tuple[str, str], list[tuple[int, str | None]]] = {
    ("contacts", "companies"): [(279, None), (1, "Primary")],
    ("companies", "contacts"): [(280, None), (2, "Primary")],
    ("deals", "companies"): [(341, None), (5, "Primary")],
    ("companies", "deals"): [(342, None), (6, "Primary")],
    ("deals", "contacts"): [(3, None)],
    ("contacts", "deals"): [(4, None)],
    ("line_items", "deals"): [(20, None)],
    ("deals", "line_items"): [(19, None)],
    # notes guide's default types: note->contact 202, note->company 190, note->deal 214
    ("notes", "contacts"): [(202, None)],
    ("contacts", "notes"): [(201, None)],
    ("notes", "companies"): [(190, None)],
    ("companies", "notes"): [(189, None)],
    ("notes", "deals"): [(214, None)],
    ("deals", "notes"): [(213, None)],
}
# typeId -> inverse typeId
ASSOCIATION_INVERSE: dict[int, int] = {
    279: 280, 280: 279, 1: 2, 2: 1, 341: 342, 342: 341, 5: 6, 6: 5, 3: 4, 4: 3, 20: 19, 19: 20,
    202: 201, 201: 202, 190: 189, 189: 190, 214: 213, 213: 214,
}
