"""The seed's vocabulary: resources, messy-data shares, names, places, plans, statuses."""

from __future__ import annotations

RESOURCES = (
    "locations",
    "plans",
    "opportunity-statuses",
    "companies",
    "members",
    "resources",
    "contracts",
    "memberships",
    "opportunities",
    "fees",
    "payments",
)

#: Resources whose records carry createdAt / modifiedAt.
TIMESTAMPED = frozenset(
    {"companies", "members", "resources", "contracts", "memberships", "opportunities", "fees",
     "payments"}
)

# Messy-data shares (of members, companies, contracts, opportunities). Counts are exact:
# round(share * n) records are picked with the seeded RNG.
SHARES = {
    "members.invalid_email": 0.03,
    "members.missing_email": 0.02,
    "members.duplicate_email": 0.01,
    "members.unnormalised_email": 0.05,
    "members.unicode_name": 0.10,
    "members.cjk_name": 0.01,  # part of unicode_name; single word as well
    "members.ascii_single_word_name": 0.02,  # + cjk_name = 3% single_word_name
    "members.missing_phone": 0.15,
    "members.without_company": 0.20,
    "companies.shared_domain": 0.05,
    "contracts.no_end_date": 0.10,
    "contracts.dates_out_of_range": 0.02,
    "opportunities.unmapped_status": 0.10,
}
NEGATIVE_PRICE_PLANS = 2
MANY_DECIMAL_PLANS = 3
MANY_DECIMAL_RESOURCE_SHARE = 0.03
NON_NUMERIC_PRICE_RESOURCES = 1

#: Opportunity statuses: (description, probability, isSystem). "On hold" is the status no
#: stage map is expected to map (anomaly ``opportunities.unmapped_status``).
OPPORTUNITY_STATUSES = (
    ("Open", 50, True),
    ("Tour booked", 40, False),
    ("Proposal", 60, False),
    ("Negotiation", 80, False),
    ("Won", 100, True),
    ("Lost", 0, True),
    ("On hold", 20, False),
)
UNMAPPED_STATUS_NAMES = frozenset({"On hold"})

ADMIN_USER = "5f0c2e1a9b3d4c0012a0b001"

FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
         "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa "
         "Anthony Betty Mark Sandra Paul Ashley Steven Emily Andrew Donna Joshua Michelle Kevin "
         "Amanda Brian Melissa George Laura Oliver Olivia Harry Amelia Jack Isla Noah Ava Leo "
         "Mia Arthur Ivy Oscar Freya Theo Grace Hugo Chloe Ivan Elena Nikolay Maria Peter Anna "
         "Raj Priya Omar Layla Kenji Yuki Ahmed Fatima Lucas Sofia").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
        "Roberts Petrov Ivanova Dimitrov Georgieva Patel Shah Khan Tanaka Sato Kowalski Novak "
        "Rossi Bianchi Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Dubois "
        "Moreau Laurent Silva Santos Oliveira Costa Jensen Hansen Larsen").split()
UNI_FIRST = ("Zoë José Søren Åsa Björn François Łukasz Žofia İlker Renée Chloë Jürgen Agnès "
             "Mónica Nuño Ørjan Ævar Siân Dóra Ľubica Ştefan Þór Małgorzata Jiří").split()
UNI_LAST = ("Ångström Müller Núñez Łukasiewicz Dvořák Gonçalves Öztürk Ødegaard Sánchez Weiß "
            "Jørgensen Böhm Čapek Ibáñez Håkansson Lefèvre Kovačević Şahin Þórsson Ó'Brien").split()
CJK_NAMES = ("李雷", "韩梅梅", "王芳", "张伟", "刘洋", "田中太郎", "佐藤花子", "김민준", "이서연",
             "陈静")
FREE_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "icloud.com", "hotmail.com")
CO_WORDS_A = ("Blue Bright Quantum Green North Silver Urban Open Clever Rapid Happy Bold Nimble "
              "Little Iron Golden Lucky Red Swift Solid Prime Atlas Nova Pixel Cedar Maple Harbor "
              "Summit River Stone").split()
CO_WORDS_B = ("Labs Studio Works Digital Ventures Analytics Design Media Partners Consulting "
              "Robotics Systems Foods Health Logistics Capital Bakery Architects Legal Travel "
              "Games Energy Bio Cloud Data").split()
CO_SUFFIX = ("Ltd", "Inc.", "GmbH", "LLC", "", "", "", "EOOD", "S.A.", "B.V.")
TLDS = ("com", "io", "co.uk", "de", "net", "dev", "eu", "bg")
CITIES = (
    # name, code, timezone, country, city, street, zip
    ("London Shoreditch", "LON", "Europe/London", "United Kingdom", "London",
     "1 Curtain Road", "EC2A 3JX"),
    ("Berlin Mitte", "BER", "Europe/Berlin", "Germany", "Berlin", "Torstraße 109", "10119"),
    ("New York SoHo", "NYC", "America/New_York", "United States", "New York",
     "131 Spring St", "10012"),
    ("Sofia Center", "SOF", "Europe/Sofia", "Bulgaria", "Sofia", "Vitosha Blvd 89", "1463"),
    ("Lisbon Baixa", "LIS", "Europe/Lisbon", "Portugal", "Lisbon", "Rua Augusta 27", "1100-048"),
    ("Austin Eastside", "AUS", "America/Chicago", "United States", "Austin",
     "1100 E 5th St", "78702"),
)
GLOBAL_PLANS = (
    # name, code, type, intervalLength, intervalCount, price
    ("Virtual Office", "VO-M", "service", "month", 1, 49.0),
    ("Mail Handling", "MAIL-M", "service", "month", 1, 25.0),
    ("Locker", "LCK-M", "service", "month", 1, 30.0),
    ("Parking Space", "PRK-M", "service", "month", 1, 120.0),
    ("Meeting Credits 10h", "MC-10", "service", "once", 1, 250.0),
    ("Day Pass", "DP-1", "hotdesk", "once", 1, 25.0),
    ("10-Day Pass", "DP-10", "hotdesk", "once", 1, 200.0),
    ("Hot Desk", "HD-M", "hotdesk", "month", 1, 199.0),
    ("Hot Desk Part-time", "HD-PT", "hotdesk", "month", 1, 129.0),
    ("Dedicated Desk", "DD-M", "desk", "month", 1, 349.0),
    ("Dedicated Desk 6 months", "DD-6M", "desk", "month", 6, 1890.0),
    ("Private Office", "PO-M", "office", "month", 1, 950.0),
    ("Private Office 12 months", "PO-12M", "office", "month", 12, 10800.0),
    ("Setup Fee", "SETUP", "service", "once", 1, 100.0),
    ("Loyalty Credit", "CRED-L", "service", "once", 1, 0.0),
    ("Referral Discount", "CRED-R", "service", "once", 1, 0.0),
)
LOCAL_PLANS = (
    ("Hot Desk", "HD-M", "hotdesk", "month", 1, 189.0),
    ("Dedicated Desk", "DD-M", "desk", "month", 1, 329.0),
    ("Private Office", "PO-M", "office", "month", 1, 890.0),
)
MANY_DECIMAL_VALUES = (149.99999, 89.333333, 12.3456, 199.00001, 74.995, 1234.5678)
MEMBER_STATUSES = (("active", 70), ("former", 10), ("pending", 5), ("contact", 5),
                   ("lead", 5), ("drop-in", 3), ("not_approved", 2))
COMPANY_STATUSES = (("active", 75), ("former", 10), ("pending", 4), ("inactive", 4),
                    ("lead", 4), ("drop-in", 2), ("not_approved", 1))
CONTRACT_STATUSES = (("signed", 60), ("not_signed", 15), ("draft", 10), ("terminated", 10),
                     ("canceled", 5))
RESOURCE_TYPES = (("meeting_room", 15), ("team_room", 30), ("desk", 25), ("desk_tr", 15),
                  ("hotdesk", 15))
FEE_NAMES = ("Meeting room overage", "Printing", "Day pass", "Event ticket",
             "Key card replacement", "Guest lunch", "Locker (one-off)", "Late payment fee")
#: Stages of a contract that is neither terminated nor canceled (repeats weight the draw).
CONTRACT_STAGES = ("active", "active", "active", "rolling", "up_for_renewal", "served_notice",
                   "not_renewed")
OPPORTUNITY_TOPICS = ("Private office", "Desks", "Expansion", "Hot desks", "Virtual office")
PORTAL_PRIVACY = {"isVisible": True, "showContactDetails": False, "showSocialProfiles": True}
NO_PROPERTIES: dict = {}
