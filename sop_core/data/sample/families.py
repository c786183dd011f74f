"""The sample company's product families: how each behaves (price range, elasticity, channel
mix, seasonality, holiday lifts, lines), the story's fixed cast."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """How one product family behaves; ranges are drawn per SKU."""

    name: str
    code: str
    share: float
    brands: tuple[str, str]
    products: tuple[str, ...]
    qualifiers: tuple[str, ...]
    size: str
    list_price: tuple[float, float]
    elasticity: tuple[float, float]
    channel_mix: tuple[float, float, float]  # retail, ecommerce, pharmacy
    season_amplitude: float
    season_peak_day: int  # day of year of the seasonal peak
    holiday_lift: dict[str, float]
    units_per_hour: float
    setup_cost: tuple[float, float]
    plant: str
    line_name: str
    target_utilisation: float


FAMILIES: tuple[Family, ...] = (
    Family(
        name="skincare",
        code="SKN",
        share=0.25,
        brands=("Lumiere", "DermaPure"),
        products=(
            "Day Cream",
            "Serum",
            "Cleanser",
            "Eye Cream",
            "Toner",
            "Night Cream",
            "Face Mask",
        ),
        qualifiers=("Hydra", "Radiance", "Calm", "Vita-C", "Age-Defy", "Clarify", "Barrier"),
        size="50 ml",
        list_price=(14.0, 62.0),
        elasticity=(-1.8, -1.0),
        channel_mix=(0.40, 0.22, 0.38),
        season_amplitude=0.10,
        season_peak_day=15,
        holiday_lift={
            "Black Friday": 0.55,
            "Christmas": 0.35,
            "Mother's Day": 0.25,
            "Valentine's Day": 0.05,
        },
        units_per_hour=1100,
        setup_cost=(2500, 5000),
        plant="North plant",
        line_name="Cream filling",
        target_utilisation=0.80,
    ),
    Family(
        name="haircare",
        code="HAI",
        share=0.20,
        brands=("Silkline", "Maneo"),
        products=("Shampoo", "Conditioner", "Hair Mask", "Styling Gel", "Hair Oil", "Dry Shampoo"),
        qualifiers=("Repair", "Volume", "Curl", "Colour Care", "Scalp", "Smooth"),
        size="250 ml",
        list_price=(6.0, 24.0),
        elasticity=(-2.6, -1.6),
        channel_mix=(0.60, 0.20, 0.20),
        season_amplitude=0.06,
        season_peak_day=170,
        holiday_lift={"Black Friday": 0.35, "Christmas": 0.15},
        units_per_hour=1700,
        setup_cost=(1500, 3000),
        plant="North plant",
        line_name="Bottling",
        target_utilisation=0.74,
    ),
    Family(
        name="fragrance",
        code="FRA",
        share=0.15,
        brands=("Maison Ambre", "Nocturne"),
        products=("Eau de Parfum", "Eau de Toilette", "Body Mist", "Parfum Extrait", "Gift Set"),
        qualifiers=("Ambre", "Iris", "Santal", "Neroli", "Oud", "Fig", "Vetiver"),
        size="50 ml",
        list_price=(35.0, 120.0),
        elasticity=(-1.4, -0.7),
        channel_mix=(0.60, 0.35, 0.05),
        season_amplitude=0.12,
        season_peak_day=350,
        holiday_lift={
            "Black Friday": 0.9,
            "Christmas": 1.6,
            "Valentine's Day": 0.8,
            "Mother's Day": 0.7,
        },
        units_per_hour=650,
        setup_cost=(4000, 8000),
        plant="South plant",
        line_name="Fragrance filling",
        target_utilisation=0.56,
    ),
    Family(
        name="makeup",
        code="MKP",
        share=0.25,
        brands=("Velvet Muse", "Chroma"),
        products=("Lipstick", "Mascara", "Foundation", "Eyeshadow Palette", "Blush", "Concealer"),
        qualifiers=("Matte", "Satin", "Lash", "Glow", "Nude", "Bold", "Longwear"),
        size="",
        list_price=(9.0, 45.0),
        elasticity=(-2.0, -1.2),
        channel_mix=(0.60, 0.32, 0.08),
        season_amplitude=0.08,
        season_peak_day=345,
        holiday_lift={"Black Friday": 0.7, "Christmas": 0.6, "Valentine's Day": 0.2},
        units_per_hour=900,
        setup_cost=(2500, 5000),
        plant="South plant",
        line_name="Makeup line",
        target_utilisation=0.72,
    ),
    Family(
        name="body care",
        code="BDY",
        share=0.15,
        brands=("Oasis", "Lumiere"),
        products=("Body Lotion", "Shower Gel", "Sun Fluid SPF 50", "Hand Cream", "Body Scrub"),
        qualifiers=("Shea", "Aloe", "Coconut", "Citrus", "Sensitive", "Cocoa"),
        size="200 ml",
        list_price=(5.0, 22.0),
        elasticity=(-2.4, -1.4),
        channel_mix=(0.50, 0.20, 0.30),
        season_amplitude=0.28,
        season_peak_day=190,
        holiday_lift={"Black Friday": 0.3, "Christmas": 0.3, "Mother's Day": 0.1},
        units_per_hour=1600,
        setup_cost=(1500, 3000),
        plant="North plant",
        line_name="Lotion & gel filling",
        target_utilisation=0.66,
    ),
)
