"""Reference data of the domain (DESIGN.md section 4), as stable machine codes.

Codes are ASCII slugs so they survive every transport; labels are what people read. The
criteria list is versioned because the law changed it (qualité de lanceur d'alerte since
1 September 2022, loi 2022-401): a report records the version it was qualified against.
"""

from __future__ import annotations

PLATFORMS = {
    "SG": "Secrétariat général",
    "PN": "Police nationale",
    "GN": "Gendarmerie nationale",
}

CHANNELS = {
    "web": "formulaire intranet",
    "email": "courriel",
    "phone": "téléphone",
    "postal": "courrier postal",
}

KINDS = {
    "discrimination": "discrimination",
    "harcelement-moral": "harcèlement moral",
    "harcelement-sexuel": "harcèlement sexuel",
    "agissement-sexiste": "agissement sexiste",
    "violence": "violence",
}

DECLARANT_ROLES = {"victim": "victime", "witness": "témoin"}

PERIMETERS = {
    "central-administration": "administration centrale",
    "prefecture": "préfecture",
    "other": "autre",
}

AGENT_STATUSES = {
    "titulaire": "titulaire",
    "contractuel": "contractuel",
    "apprenti": "apprenti",
    "stagiaire": "stagiaire",
    "other": "autre",
}

AGENT_CATEGORIES = {"A": "catégorie A", "B": "catégorie B", "C": "catégorie C"}

ACTOR_ROLES = {
    "listener": "écoutant",
    "cell-manager": "responsable de cellule",
    "referral-interlocutor": "interlocuteur de saisine",
    "analyst": "analyste",
    "auditor": "auditeur",
    "declarant": "déclarant",
    "administrator": "administrateur",
    "system": "service de la plateforme",
}

INTERLOCUTORS = {
    "hr-office": "bureau de gestion RH",
    "occupational-physician": "médecin de prévention",
    "social-worker": "assistant(e) de service social",
    "hierarchy": "hiérarchie",
    "equality-referent": "référent égalité-diversité",
    "inspection": "inspection",
    "prosecutor-article-40": "procureur (article 40 du code de procédure pénale)",
    "defenseur-des-droits": "Défenseur des droits",
    "other": "autre",
}

_CRITERIA_2008 = {
    "origine": "origine",
    "sexe": "sexe",
    "situation-de-famille": "situation de famille",
    "grossesse": "grossesse",
    "apparence-physique": "apparence physique",
    "vulnerabilite-economique": ("particulière vulnérabilité résultant de la situation économique"),
    "patronyme": "patronyme",
    "lieu-de-residence": "lieu de résidence",
    "domiciliation-bancaire": "domiciliation bancaire",
    "etat-de-sante": "état de santé",
    "perte-d-autonomie": "perte d'autonomie",
    "handicap": "handicap",
    "caracteristiques-genetiques": "caractéristiques génétiques",
    "moeurs": "mœurs",
    "orientation-sexuelle": "orientation sexuelle",
    "identite-de-genre": "identité de genre",
    "age": "âge",
    "opinions-politiques": "opinions politiques",
    "activites-syndicales": "activités syndicales",
    "langue": "capacité à s'exprimer dans une langue autre que le français",
    "ethnie-nation-race-religion": (
        "appartenance ou non-appartenance, vraie ou supposée, à une ethnie, une nation, "
        "une prétendue race ou une religion déterminée"
    ),
}

CRITERIA_VERSIONS = {
    1: _CRITERIA_2008,
    2: {
        **_CRITERIA_2008,
        "lanceur-d-alerte": (
            "qualité de lanceur d'alerte, de facilitateur ou de personne en lien avec un "
            "lanceur d'alerte"
        ),
    },
}
CURRENT_CRITERIA_VERSION = max(CRITERIA_VERSIONS)

REFERRAL_PURPOSES = {
    "support": "soutien et accompagnement de la victime",
    "authority": "autorité compétente pour traiter les faits",
    "unspecified": "non précisé (saisines enregistrées avant la version 2)",
}

OUTCOMES = {
    "information-only": "information et orientation du déclarant",
    "facts-confirmed": "faits avérés, mesures prises",
    "sanction": "procédure disciplinaire engagée",
    "litigation": "contentieux engagé",
    "not-substantiated": "faits non établis",
    "withdrawn": "retrait du déclarant",
    "other": "autre",
}

REFERRAL_DISPOSITIONS = {
    "withdraw": "the open referrals are withdrawn with the case",
    "await-answers": "the open referrals stay open and their answers are still recorded",
}

ERASURE_BASES = {
    "retention": "the platform's retention period after closure ran out",
    "request": "the cell manager erased the case (e.g. at the declarant's request)",
}

INTERVIEW_MODES = ("phone", "video", "in-person")

DEADLINES = {
    "acknowledgement": "accusé de réception sous 7 jours ouvrés",
    "feedback": "retour au déclarant sous 3 mois après l'accusé de réception",
    "meeting": "rencontre sous 20 jours ouvrés quand le déclarant la demande",
}
