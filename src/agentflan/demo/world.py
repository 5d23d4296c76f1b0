"""A small simulated tool world for the synthetic demo corpus.

Tools with JSON-schema parameters, query templates whose slots fill the arguments, a simulated
response per call and a templated final answer; plus plain queries that need no tool. Everything is
drawn from a `random.Random` the caller seeds, so the corpus is reproducible byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CITIES = [
    "London",
    "Paris",
    "Tokyo",
    "Berlin",
    "Madrid",
    "Rome",
    "Cairo",
    "Lima",
    "Oslo",
    "Seoul",
    "Delhi",
    "Sydney",
    "Toronto",
    "Chicago",
    "Boston",
    "Lisbon",
    "Vienna",
    "Prague",
    "Dublin",
    "Nairobi",
    "Bangkok",
    "Hanoi",
    "Quito",
    "Athens",
]
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "KRW", "BRL"]
SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "IBM", "ORCL", "INTC", "SAP", "SONY"]
LANGUAGES = ["French", "Spanish", "German", "Italian", "Japanese", "Korean", "Portuguese", "Dutch"]
PHRASES = [
    "good morning",
    "where is the station",
    "thank you very much",
    "how much does this cost",
    "I am lost",
    "see you tomorrow",
    "the food was delicious",
    "can you help me",
    "I would like a coffee",
    "happy birthday",
]
INGREDIENTS = ["chicken", "tofu", "lentils", "salmon", "mushrooms", "eggs", "spinach", "rice", "potatoes", "beans"]
UNITS = [
    ("km", "miles"),
    ("miles", "km"),
    ("kg", "pounds"),
    ("pounds", "kg"),
    ("celsius", "fahrenheit"),
    ("liters", "gallons"),
]
TOPICS = ["technology", "sports", "science", "business", "health", "climate", "space", "music"]
WORDS = [
    "serendipity",
    "ephemeral",
    "ubiquitous",
    "laconic",
    "petrichor",
    "sonder",
    "quixotic",
    "halcyon",
    "mellifluous",
]
CUISINES = ["Italian", "Thai", "Mexican", "Indian", "Japanese", "Lebanese", "Ethiopian", "Korean"]
MOVIES = ["Inception", "Amelie", "Spirited Away", "Arrival", "Parasite", "Alien", "Heat", "Up", "Coco", "Her"]
COUNTRIES = ["France", "Japan", "Brazil", "Canada", "India", "Kenya", "Germany", "Mexico", "Spain", "Norway"]
CONDITIONS = ["sunny", "cloudy", "light rain", "windy", "snowing", "foggy", "clear"]


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    parameters: dict[str, Any]
    templates: tuple[str, ...]
    slots: Callable[[random.Random], dict[str, Any]]  # query slots == call arguments
    respond: Callable[[dict[str, Any], random.Random], dict[str, Any]]
    answer: Callable[[dict[str, Any], dict[str, Any]], str]
    thought: str  # why this tool, with {slots}

    def spec(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


def _obj(props: dict[str, dict[str, Any]], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required}


def _s(desc: str, **kw: Any) -> dict[str, Any]:
    return {"type": "string", "description": desc, **kw}


def _n(desc: str, typ: str = "number") -> dict[str, Any]:
    return {"type": typ, "description": desc}


TOOLS: tuple[ToolDef, ...] = (
    ToolDef(
        "get_weather",
        "Current weather for a city.",
        _obj({"city": _s("City name"), "unit": _s("Temperature unit", enum=["celsius", "fahrenheit"])}, ["city"]),
        (
            "What's the weather like in {city} right now?",
            "Is it cold in {city} today? Give me the temperature in {unit}.",
            "Tell me the current weather in {city}.",
            "I'm heading to {city}; what's the weather there?",
        ),
        lambda r: {"city": r.choice(CITIES), "unit": r.choice(["celsius", "fahrenheit"])},
        lambda a, r: {"city": a["city"], "temperature": r.randint(-5, 35), "condition": r.choice(CONDITIONS)},
        lambda a, o: (
            f"It is {o['condition']} in {o['city']} with {o['temperature']} degrees {a.get('unit', 'celsius')}."
        ),
        "The user wants the current weather in {city}, so I should query the weather service for {city}.",
    ),
    ToolDef(
        "convert_currency",
        "Convert an amount of money from one currency to another at today's rate.",
        _obj(
            {
                "amount": _n("Amount to convert"),
                "from_currency": _s("ISO code of the source currency"),
                "to_currency": _s("ISO code of the target currency"),
            },
            ["amount", "from_currency", "to_currency"],
        ),
        (
            "How much is {amount} {from_currency} in {to_currency}?",
            "Convert {amount} {from_currency} to {to_currency} please.",
            "I have {amount} {from_currency}. What is that in {to_currency}?",
        ),
        lambda r: dict(
            zip(("from_currency", "to_currency"), r.sample(CURRENCIES, 2)),
            amount=r.choice([5, 10, 20, 50, 75, 100, 250, 500, 1000, 1200]),
        ),
        lambda a, r: {"rate": round(r.uniform(0.1, 3.0), 4), "converted": round(a["amount"] * r.uniform(0.1, 3.0), 2)},
        lambda a, o: f"{a['amount']} {a['from_currency']} is about {o['converted']} {a['to_currency']}.",
        "This needs today's exchange rate from {from_currency} to {to_currency}; the currency converter gives it.",
    ),
    ToolDef(
        "get_stock_price",
        "Latest trading price of a stock by its ticker symbol.",
        _obj({"symbol": _s("Ticker symbol, e.g. AAPL")}, ["symbol"]),
        (
            "What is {symbol} trading at?",
            "Give me the latest stock price of {symbol}.",
            "How is {symbol} stock doing today?",
        ),
        lambda r: {"symbol": r.choice(SYMBOLS)},
        lambda a, r: {
            "symbol": a["symbol"],
            "price": round(r.uniform(20, 900), 2),
            "change_percent": round(r.uniform(-4, 4), 2),
        },
        lambda a, o: f"{o['symbol']} trades at {o['price']} USD ({o['change_percent']:+}% today).",
        "Stock prices change all the time, so I need the live quote for {symbol}.",
    ),
    ToolDef(
        "translate_text",
        "Translate a text into a target language.",
        _obj(
            {"text": _s("Text to translate"), "target_language": _s("Language to translate into")},
            ["text", "target_language"],
        ),
        (
            "How do you say '{text}' in {target_language}?",
            "Translate '{text}' into {target_language}.",
            "Can you put '{text}' into {target_language} for me?",
        ),
        lambda r: {"text": r.choice(PHRASES), "target_language": r.choice(LANGUAGES)},
        lambda a, r: {"translation": f"[{a['target_language']}] {a['text']}"},
        lambda a, o: f"In {a['target_language']}, '{a['text']}' is: {o['translation']}.",
        "I should use the translator to turn '{text}' into {target_language}.",
    ),
    ToolDef(
        "get_local_time",
        "Current local time in a city.",
        _obj({"city": _s("City name")}, ["city"]),
        ("What time is it in {city}?", "Tell me the local time in {city}.", "Is it late in {city} right now?"),
        lambda r: {"city": r.choice(CITIES)},
        lambda a, r: {"city": a["city"], "time": f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}"},
        lambda a, o: f"It is {o['time']} in {o['city']} right now.",
        "The local time in {city} depends on its time zone; the clock tool knows it.",
    ),
    ToolDef(
        "search_flights",
        "Search flights between two cities on a date.",
        _obj(
            {"origin": _s("Departure city"), "destination": _s("Arrival city"), "date": _s("Date, YYYY-MM-DD")},
            ["origin", "destination", "date"],
        ),
        (
            "Find me a flight from {origin} to {destination} on {date}.",
            "Are there flights from {origin} to {destination} on {date}?",
            "I need to fly {origin} to {destination} on {date}. What are my options?",
        ),
        lambda r: dict(
            zip(("origin", "destination"), r.sample(CITIES, 2)),
            date=f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
        ),
        lambda a, r: {
            "flights": [
                {
                    "flight": f"AF{r.randint(100, 999)}",
                    "departure": f"{r.randint(6, 22):02d}:00",
                    "price": r.randint(80, 900),
                }
            ]
        },
        lambda a, o: (
            f"Flight {o['flights'][0]['flight']} leaves {a['origin']} for {a['destination']} on {a['date']} at {o['flights'][0]['departure']} for {o['flights'][0]['price']} USD."
        ),
        "I need to search flights from {origin} to {destination} on {date}.",
    ),
    ToolDef(
        "find_recipes",
        "Find recipes that use an ingredient and fit a time limit.",
        _obj(
            {"ingredient": _s("Main ingredient"), "max_minutes": _n("Longest cooking time in minutes", "integer")},
            ["ingredient"],
        ),
        (
            "Give me a {ingredient} recipe that takes under {max_minutes} minutes.",
            "What can I cook with {ingredient} in {max_minutes} minutes?",
            "Suggest a quick dish with {ingredient}, {max_minutes} minutes max.",
        ),
        lambda r: {"ingredient": r.choice(INGREDIENTS), "max_minutes": r.choice([15, 20, 30, 45, 60])},
        lambda a, r: {
            "recipes": [
                {
                    "title": f"{a['ingredient'].title()} {r.choice(['stir-fry', 'curry', 'salad', 'bake', 'soup'])}",
                    "minutes": a["max_minutes"] - 5,
                }
            ]
        },
        lambda a, o: f"Try {o['recipes'][0]['title']}: it takes {o['recipes'][0]['minutes']} minutes.",
        "I should search the recipe database for {ingredient} dishes under {max_minutes} minutes.",
    ),
    ToolDef(
        "convert_units",
        "Convert a measurement from one unit to another.",
        _obj(
            {"value": _n("The measurement"), "from_unit": _s("Unit of the value"), "to_unit": _s("Unit to convert to")},
            ["value", "from_unit", "to_unit"],
        ),
        (
            "How many {to_unit} is {value} {from_unit}?",
            "Convert {value} {from_unit} to {to_unit}.",
            "What is {value} {from_unit} in {to_unit}?",
        ),
        lambda r: dict(zip(("from_unit", "to_unit"), r.choice(UNITS)), value=r.choice([1, 2, 5, 10, 12, 25, 42, 100])),
        lambda a, r: {"result": round(a["value"] * r.uniform(0.3, 2.5), 3)},
        lambda a, o: f"{a['value']} {a['from_unit']} is {o['result']} {a['to_unit']}.",
        "The unit converter can turn {value} {from_unit} into {to_unit} exactly.",
    ),
    ToolDef(
        "get_news_headlines",
        "Latest news headlines on a topic.",
        _obj({"topic": _s("News topic"), "count": _n("How many headlines", "integer")}, ["topic"]),
        (
            "What are the latest {topic} headlines? Give me {count}.",
            "Show me {count} news headlines about {topic}.",
            "Any {topic} news today? {count} headlines please.",
        ),
        lambda r: {"topic": r.choice(TOPICS), "count": r.randint(1, 5)},
        lambda a, r: {"headlines": [f"{a['topic'].title()} story #{i + 1}" for i in range(a["count"])]},
        lambda a, o: "Here are the headlines: " + "; ".join(o["headlines"]) + ".",
        "Today's {topic} headlines come from the news feed.",
    ),
    ToolDef(
        "define_word",
        "Dictionary definition of an English word.",
        _obj({"word": _s("The word to define")}, ["word"]),
        ("What does '{word}' mean?", "Define the word {word}.", "Look up the meaning of {word} in the dictionary."),
        lambda r: {"word": r.choice(WORDS)},
        lambda a, r: {"word": a["word"], "definition": f"the dictionary sense of {a['word']}"},
        lambda a, o: f"'{o['word']}' means {o['definition']}.",
        "I should check the dictionary for the exact definition of '{word}'.",
    ),
    ToolDef(
        "calculate",
        "Evaluate an arithmetic expression exactly.",
        _obj({"expression": _s("Arithmetic expression, e.g. 12*(3+4)")}, ["expression"]),
        ("What is {expression}?", "Calculate {expression} for me.", "Can you compute {expression}?"),
        lambda r: {"expression": f"{r.randint(12, 999)} {r.choice(['*', '+', '-'])} {r.randint(12, 999)}"},
        lambda a, r: {"result": _arith(a["expression"])},
        lambda a, o: f"{a['expression']} = {o['result']}.",
        "To be exact I should evaluate {expression} with the calculator.",
    ),
    ToolDef(
        "find_restaurants",
        "Find restaurants in a city by cuisine.",
        _obj({"city": _s("City name"), "cuisine": _s("Type of food")}, ["city", "cuisine"]),
        (
            "Where can I eat {cuisine} food in {city}?",
            "Recommend a {cuisine} restaurant in {city}.",
            "Any good {cuisine} places in {city}?",
        ),
        lambda r: {"city": r.choice(CITIES), "cuisine": r.choice(CUISINES)},
        lambda a, r: {
            "restaurants": [
                {
                    "name": f"{r.choice(['Casa', 'Chez', 'House of', 'Little'])} {a['cuisine']}",
                    "rating": round(r.uniform(3.5, 5), 1),
                }
            ]
        },
        lambda a, o: f"{o['restaurants'][0]['name']} in {a['city']} is rated {o['restaurants'][0]['rating']}.",
        "I need the restaurant directory for {cuisine} places in {city}.",
    ),
    ToolDef(
        "get_movie_info",
        "Facts about a film: year, director, rating.",
        _obj({"title": _s("Film title")}, ["title"]),
        ("Who directed {title}?", "When did {title} come out, and is it any good?", "Tell me about the movie {title}."),
        lambda r: {"title": r.choice(MOVIES)},
        lambda a, r: {
            "title": a["title"],
            "year": r.randint(1975, 2024),
            "director": r.choice(["A. Lee", "M. Chen", "S. Park", "J. Doe"]),
            "rating": round(r.uniform(6, 9), 1),
        },
        lambda a, o: f"{o['title']} ({o['year']}) was directed by {o['director']} and is rated {o['rating']}.",
        "The movie database has the facts about {title}.",
    ),
    ToolDef(
        "list_public_holidays",
        "Public holidays of a country in a year.",
        _obj({"country": _s("Country name"), "year": _n("Year", "integer")}, ["country", "year"]),
        (
            "What are the public holidays in {country} in {year}?",
            "List {country}'s holidays for {year}.",
            "When are the bank holidays in {country} in {year}?",
        ),
        lambda r: {"country": r.choice(COUNTRIES), "year": r.randint(2024, 2028)},
        lambda a, r: {
            "holidays": [
                f"{a['year']}-01-01 New Year",
                f"{a['year']}-{r.randint(2, 12):02d}-{r.randint(1, 28):02d} National Day",
            ]
        },
        lambda a, o: f"{a['country']} has these holidays in {a['year']}: " + ", ".join(o["holidays"]) + ".",
        "Holiday dates differ by country and year; the holiday calendar for {country} in {year} has them.",
    ),
    ToolDef(
        "track_package",
        "Delivery status of a parcel by tracking number.",
        _obj({"tracking_number": _s("The parcel's tracking number")}, ["tracking_number"]),
        (
            "Where is my package {tracking_number}?",
            "Track parcel {tracking_number} for me.",
            "Has {tracking_number} been delivered yet?",
        ),
        lambda r: {"tracking_number": f"TRK{r.randint(100000, 999999)}"},
        lambda a, r: {
            "status": r.choice(["in transit", "delivered", "out for delivery", "at the depot"]),
            "location": r.choice(CITIES),
        },
        lambda a, o: f"Package {a['tracking_number']} is {o['status']} ({o['location']}).",
        "I should look up tracking number {tracking_number} with the courier.",
    ),
    ToolDef(
        "search_hotels",
        "Find hotels in a city for a number of nights.",
        _obj({"city": _s("City name"), "nights": _n("Number of nights", "integer")}, ["city", "nights"]),
        (
            "Find me a hotel in {city} for {nights} nights.",
            "I need somewhere to stay in {city}, {nights} nights.",
            "Book-able hotels in {city} for {nights} nights?",
        ),
        lambda r: {"city": r.choice(CITIES), "nights": r.randint(1, 7)},
        lambda a, r: {
            "hotels": [
                {
                    "name": f"Hotel {r.choice(['Aurora', 'Central', 'Riverside', 'Vista'])}",
                    "price_per_night": r.randint(60, 400),
                }
            ]
        },
        lambda a, o: (
            f"{o['hotels'][0]['name']} in {a['city']} costs {o['hotels'][0]['price_per_night']} USD a night, {a['nights'] * o['hotels'][0]['price_per_night']} USD for {a['nights']} nights."
        ),
        "I need the hotel search for {city} for {nights} nights.",
    ),
)
TOOLS_BY_NAME = {t.name: t for t in TOOLS}


def _arith(expression: str) -> int:
    a, op, b = expression.split()
    return {"*": int(a) * int(b), "+": int(a) + int(b), "-": int(a) - int(b)}[op]


# Queries that need no tool: (query, answer). Ordinary chat, answered from the model itself.
PLAIN: tuple[tuple[str, str], ...] = (
    ("Hi! How are you today?", "I'm doing well, thank you for asking. How can I help you today?"),
    ("Thanks a lot for your help!", "You're welcome! Happy to help any time."),
    ("Tell me a joke about cats.", "Why did the cat sit on the computer? To keep an eye on the mouse!"),
    (
        "Write a haiku about autumn.",
        "Crisp leaves drift and fall,\ngolden light on quiet paths,\nthe year breathes slowly.",
    ),
    (
        "Give me one tip for staying focused.",
        "Work in short blocks of 25 minutes with a 5-minute break, and keep your phone in another room.",
    ),
    ("What is a good name for a goldfish?", "How about Bubbles, Goldie or Finn? Short names are easy to call."),
    ("Can you explain what a verb is?", "A verb is a word for an action or a state, like 'run', 'think' or 'be'."),
    ("Say something encouraging.", "You have handled hard days before, and you will handle this one too."),
    ("What's your favourite colour?", "I don't have personal preferences, but many people find blue calming."),
    (
        "How do I politely decline an invitation?",
        "Thank them warmly, say you can't make it, and wish them a great time.",
    ),
    ("Suggest a name for a book club.", "How about 'Chapter & Verse' or 'The Page Turners'?"),
    (
        "Write a short birthday message for a friend.",
        "Happy birthday! Wishing you a year full of laughter, adventures and good friends.",
    ),
    (
        "Why is the sky blue?",
        "Air scatters short blue wavelengths of sunlight more than red ones, so the sky looks blue.",
    ),
    ("What is the plural of 'mouse'?", "The plural of 'mouse' is 'mice'."),
    (
        "Summarise the idea of recycling in one sentence.",
        "Recycling turns used materials into new products so fewer resources are wasted.",
    ),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("Give me a fun fact.", "Octopuses have three hearts and blue blood."),
    (
        "What should I say in a thank-you note to a teacher?",
        "Thank them for their patience and name one thing they taught you that stayed with you.",
    ),
    ("Can you help me brainstorm a team name?", "Sure: 'The Trailblazers', 'Byte Club' or 'The Problem Solvers'."),
    ("What rhymes with 'light'?", "Bright, night, kite, sight and flight all rhyme with 'light'."),
    ("Tell me a riddle.", "What has keys but can't open locks? A piano."),
    (
        "Is it better to exercise in the morning or evening?",
        "Both work; the best time is the one you can stick to consistently.",
    ),
    ("Describe the ocean in three words.", "Vast, restless, blue."),
    ("What is a synonym for 'happy'?", "Joyful, cheerful or content."),
    ("Good night!", "Good night! Sleep well."),
    ("Who are you?", "I'm an AI assistant. I can chat, answer questions and use tools when they are available."),
    (
        "Write a two-line poem about the sea.",
        "The sea hums old songs to the shore,\nand the shore keeps asking for more.",
    ),
    ("What's a polite way to start an email?", "'Dear Ms. Smith, I hope this message finds you well.'"),
    ("Give me a motivational quote.", "'It always seems impossible until it's done.' - Nelson Mandela"),
    (
        "How do I make my writing clearer?",
        "Use short sentences, concrete words, and cut anything that doesn't serve the point.",
    ),
    # more variety, so that a held-out share of general queries still leaves plenty to train on
    (
        "Hello! What can you do?",
        "I can chat, answer questions, and call tools when they are available to look things up.",
    ),
    ("Tell me a joke about dogs.", "Why did the dog sit in the shade? Because he didn't want to be a hot dog."),
    (
        "Write a haiku about winter.",
        "Snow hushes the street,\nbreath hangs white in silver air,\nthe world holds still.",
    ),
    (
        "Give me a tip for sleeping better.",
        "Keep the same bedtime every night and put screens away half an hour before.",
    ),
    ("What is a noun?", "A noun is a word for a person, place, thing or idea, like 'teacher', 'city' or 'freedom'."),
    ("Suggest a name for a cat.", "How about Miso, Pepper or Luna?"),
    (
        "Why do leaves change colour in autumn?",
        "Trees stop making green chlorophyll, so the yellow and red pigments show through.",
    ),
    ("What is the plural of 'goose'?", "The plural of 'goose' is 'geese'."),
    (
        "Say something kind to a friend who failed an exam.",
        "One exam doesn't measure you. You learned a lot, and you'll be ready next time.",
    ),
    (
        "How do I start a conversation at a party?",
        "Ask an open question, like how they know the host, and listen for something to follow up on.",
    ),
    ("Describe a forest in three words.", "Green, quiet, alive."),
    ("What rhymes with 'cat'?", "Hat, bat, mat, flat and chat all rhyme with 'cat'."),
    ("Give me a fun fact about space.", "A day on Venus is longer than its year."),
    ("Write a one-line poem about coffee.", "Dark warmth in a cup, the morning's first small sunrise."),
    (
        "What is a good hobby for winter?",
        "Knitting, baking bread or learning an instrument all fit long winter evenings.",
    ),
    ("How many days are in a leap year?", "A leap year has 366 days."),
    ("Tell me a tongue twister.", "She sells seashells by the seashore."),
    ("What is a synonym for 'fast'?", "Quick, rapid or swift."),
    (
        "How do I apologise to a colleague?",
        "Say what you did, that you're sorry, and what you'll do differently, without excuses.",
    ),
    ("Thank you, that was helpful!", "You're welcome! Glad it helped."),
    ("Can you explain what an adjective is?", "An adjective describes a noun, like 'blue', 'tall' or 'happy'."),
    (
        "Give me a motivational quote about learning.",
        "'Live as if you were to die tomorrow. Learn as if you were to live forever.' - Gandhi",
    ),
    (
        "What should I write in a farewell card?",
        "Thank them for the time together, share one good memory, and wish them luck ahead.",
    ),
    (
        "Is tea or coffee better in the morning?",
        "Either is fine; tea has less caffeine, coffee a stronger kick. Pick what suits you.",
    ),
)
# Templated ordinary chat: many distinct queries of a few kinds, so that general chat, like tool use, is
# learned as a kind of request, and held-out general queries are new instances of familiar kinds.
_TOPICS = [
    "autumn",
    "rain",
    "the sea",
    "mountains",
    "coffee",
    "a city at night",
    "a garden",
    "friendship",
    "the moon",
    "a train ride",
    "snow",
    "the desert",
    "a library",
    "spring",
    "a lighthouse",
    "old photographs",
]
_ANIMALS = ["cat", "dog", "duck", "horse", "penguin", "frog", "owl", "bee", "cow", "goat", "parrot", "turtle"]
_SYNONYMS = [
    ("happy", "joyful"),
    ("big", "large"),
    ("fast", "quick"),
    ("smart", "clever"),
    ("tired", "weary"),
    ("angry", "furious"),
    ("quiet", "silent"),
    ("brave", "bold"),
    ("strange", "odd"),
    ("rich", "wealthy"),
    ("sad", "unhappy"),
    ("small", "tiny"),
    ("easy", "simple"),
    ("funny", "amusing"),
]
_PETS = ["cat", "dog", "hamster", "goldfish", "rabbit", "parrot", "turtle", "guinea pig"]
_NAMES = ["Miso", "Pepper", "Luna", "Biscuit", "Olive", "Mango", "Pixel", "Juniper"]
_ACTIVITIES = [
    "learning a language",
    "running",
    "public speaking",
    "saving money",
    "cooking at home",
    "studying",
    "writing every day",
    "keeping a plant alive",
    "sleeping better",
    "reading more books",
]
_PEOPLE = ["teacher", "neighbour", "colleague", "friend", "grandmother", "coach", "doctor", "mentor"]
GENERAL_TEMPLATES: tuple[tuple[str, str, Callable[[random.Random], dict[str, str]]], ...] = (
    (
        "Write a haiku about {topic}.",
        "Here is one about {topic}:\nsoft light on {topic},\nquiet thoughts drift slowly by,\nthe day settles down.",
        lambda r: {"topic": r.choice(_TOPICS)},
    ),
    (
        "Tell me a joke about a {animal}.",
        "Why did the {animal} sit by the window? It wanted a better view of the weekend!",
        lambda r: {"animal": r.choice(_ANIMALS)},
    ),
    (
        "What is a synonym for '{word}'?",
        "A good synonym for '{word}' is '{synonym}'.",
        lambda r: dict(zip(("word", "synonym"), r.choice(_SYNONYMS))),
    ),
    (
        "Suggest a name for a {pet}.",
        "How about {name}? It is short, friendly and easy to call for a {pet}.",
        lambda r: {"pet": r.choice(_PETS), "name": r.choice(_NAMES)},
    ),
    (
        "Give me one tip for {activity}.",
        "For {activity}: start small, do a little every day, and notice your progress.",
        lambda r: {"activity": r.choice(_ACTIVITIES)},
    ),
    (
        "How do I thank my {person} politely?",
        "Tell your {person} what they did and why it mattered to you: 'Thank you, it meant a lot.'",
        lambda r: {"person": r.choice(_PEOPLE)},
    ),
    (
        "Write a two-line poem about {topic}.",
        "{Topic} hums a quiet tune,\nand I listen, late and soon.",
        lambda r: (lambda t: {"topic": t, "Topic": t[0].upper() + t[1:]})(r.choice(_TOPICS)),
    ),
)


def sample_plain(rng: random.Random) -> tuple[str, str]:
    """An ordinary chat query and its answer: a fixed pair, or an instance of a template."""
    if rng.random() < 0.3:
        return rng.choice(PLAIN)
    query, answer, slots = rng.choice(GENERAL_TEMPLATES)
    values = slots(rng)
    return query.format(**values), answer.format(**values)


PLAIN_FOLLOWUPS: tuple[tuple[str, str], ...] = (
    ("Can you make it shorter?", "Sure, here is a shorter version."),
    ("Thanks, that's great.", "Glad it helps!"),
    ("One more, please.", "Of course, here is another one."),
)


FINISH_SPEC = {
    "name": "Finish",
    "description": "If you believe that you have obtained a result that can answer the task, please call this function to provide the final answer. Alternatively, if you recognize that you are unable to proceed with the task in the current state, call this function to restart. Remember: you must ALWAYS call this function at the end of your attempt, and the only part that will be shown to the user is the final answer, so it should contain sufficient information.",
    "parameters": {
        "type": "object",
        "properties": {
            "return_type": {"type": "string", "enum": ["give_answer", "give_up_and_restart"]},
            "final_answer": {
                "type": "string",
                "description": 'The final answer you want to give the user. You should have this field if "return_type"=="give_answer"',
            },
        },
        "required": ["return_type"],
    },
}


def toolbench_function(tool: ToolDef) -> dict[str, Any]:
    """A tool as ToolBench lists it: RapidAPI-style description and an 'optional' list."""
    params = dict(tool.parameters)
    required = params.get("required", [])
    params["optional"] = [k for k in params["properties"] if k not in required]
    return {
        "name": tool.name,
        "description": f'This is the subfunction for tool "{tool.name}", you can use this tool.The description of this function is: "{tool.description}"',
        "parameters": params,
    }


def sample_call(tool: ToolDef, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A query for the tool and the arguments that answer it (optional slots the query names)."""
    slots = tool.slots(rng)
    template = rng.choice(tool.templates)
    query = template.format(**slots)
    required = tool.parameters.get("required", [])
    args = {k: v for k, v in slots.items() if k in required or "{" + k + "}" in template}
    return query, args
