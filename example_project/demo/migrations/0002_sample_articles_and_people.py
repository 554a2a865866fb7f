"""Sample people and articles so @-mentions work on a fresh demo database."""

from django.db import migrations

PEOPLE = [
    ("Ada Lovelace", "Transit planner", "Plans the Blue Line extension."),
    ("Grace Hopper", "Operations lead", "Runs night service and the events calendar."),
    ("Alan Turing", "Data analyst", "Measures ridership on every line."),
]

ARTICLES = [
    (
        "Blue Line extension opens",
        "Ada Lovelace",
        "Four new stations open on the Blue Line this spring.",
        "The Blue Line now reaches the harbour, with four new stations and trains every six minutes.",
    ),
    (
        "Night service on the Red Line",
        "Grace Hopper",
        "Red Line trains now run all night on weekends.",
        "From Friday, Red Line trains run every twenty minutes between midnight and five.",
    ),
    (
        "Ridership report",
        "Alan Turing",
        "Ridership grew on every line last year.",
        "Green Line ridership grew fastest, by twelve percent; the Blue Line carried the most riders.",
    ),
]


def add_samples(apps, schema_editor):
    Person = apps.get_model("demo", "Person")
    Article = apps.get_model("demo", "Article")
    people = {name: Person.objects.create(name=name, role=role, bio=bio) for name, role, bio in PEOPLE}
    for title, author, summary, body in ARTICLES:
        Article.objects.create(title=title, author=people[author], summary=summary, body=body, published=True)


def remove_samples(apps, schema_editor):
    apps.get_model("demo", "Article").objects.filter(title__in=[a[0] for a in ARTICLES]).delete()
    apps.get_model("demo", "Person").objects.filter(name__in=[p[0] for p in PEOPLE]).delete()


class Migration(migrations.Migration):
    dependencies = [("demo", "0001_articles_and_people")]

    operations = [migrations.RunPython(add_samples, remove_samples)]
