"""Consultation: comments and endorsements on demands, the priorities survey, what anonymity keeps."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bargaining import consultation as svc
from bargaining.models import (
    Campaign,
    Comment,
    Endorsement,
    Participation,
    Survey,
    SurveyAnswer,
    SurveyResponse,
)
from membership.models import Member
from tests.bargaining.factories import make_campaign, make_demand
from tests.base import Personas, build_personas, login_as
from tests.factories import make_member
from tests.services import need
from union.models import AuditEvent

TITLES = ("Paid wellness breaks", "A living wage", "Name the client")


def consultation_campaign(p: Personas, n: int = 3) -> Campaign:
    campaign = make_campaign(p)
    for title in TITLES[:n]:
        make_demand(p, campaign, title=title)
    Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.CONSULTATION)
    campaign.refresh_from_db()
    return campaign


def ranks(survey: Survey, *order: int) -> dict[int, int]:
    """{demand id: rank} from the article numbers in order of preference."""
    by_number = {d.number: d.pk for d in survey.demands.all()}
    return {by_number[number]: place for place, number in enumerate(order, start=1)}


def dots(survey: Survey, **by_article: int) -> dict[int, int]:
    by_number = {d.number: d.pk for d in survey.demands.all()}
    return {pk: by_article.get(f"a{number}", 0) for number, pk in by_number.items()}


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("seq").values_list("action", flat=True))


# -- Comments ----------------------------------------------------------------------------------


@pytest.mark.django_db
class TestComments:
    def test_a_named_comment_is_audited_and_an_anonymous_one_names_nobody(self, personas: Personas) -> None:
        demand = make_demand(personas, consultation_campaign(personas, 1))
        named = svc.comment_add(author=personas.member, demand=demand, body="We need this.")
        assert named.author == personas.member and actions()[-1] == "bargaining.comment_add"
        before = AuditEvent.objects.count()
        anonymous = svc.comment_add(author=personas.member, demand=demand, body="  Quietly: yes.  ", anonymous=True)
        anonymous.refresh_from_db()
        assert anonymous.author is None and anonymous.body == "Quietly: yes." and len(anonymous.author_tag) == 64
        assert (anonymous.created_at.minute, anonymous.created_at.second) == (0, 0)
        assert AuditEvent.objects.count() == before  # no record of who posted it
        assert svc.is_comment_author(anonymous, personas.member)
        assert not svc.is_comment_author(anonymous, personas.steward)
        assert not svc.is_comment_author(named, personas.steward)

    def test_only_the_author_edits_within_a_day_and_deletes(self, personas: Personas) -> None:
        demand = make_demand(personas, consultation_campaign(personas, 1))
        comment = svc.comment_add(author=personas.member, demand=demand, body="First words", anonymous=True)
        with pytest.raises(ValidationError):
            svc.comment_edit(actor=personas.steward, comment=comment, body="Hijacked")
        with pytest.raises(ValidationError):
            svc.comment_delete(actor=personas.representative, comment=comment)
        edited = svc.comment_edit(actor=personas.member, comment=comment, body="Better words")
        assert edited.body == "Better words" and edited.edited
        Comment.objects.filter(pk=comment.pk).update(created_at=timezone.now() - timedelta(days=2))
        with pytest.raises(ValidationError):
            svc.comment_edit(actor=personas.member, comment=comment, body="Too late")
        assert Comment.objects.get(pk=comment.pk).body == "Better words"
        svc.comment_delete(actor=personas.member, comment=comment)
        assert not Comment.objects.exists()

    def test_bad_text_and_a_closed_stage_change_nothing(self, personas: Personas) -> None:
        campaign = consultation_campaign(personas, 1)
        demand = campaign.demands.get()
        for body in ("   ", "x" * (svc.COMMENT_MAX + 1)):
            with pytest.raises(ValidationError):
                svc.comment_add(author=personas.member, demand=demand, body=body)
        Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.RATIFICATION)
        with pytest.raises(ValidationError):
            svc.comment_add(author=personas.member, demand=demand, body="Late")
        with pytest.raises(ValidationError):
            svc.endorsement_toggle(user=personas.member, demand=demand)
        assert not Comment.objects.exists() and not Endorsement.objects.exists()

    def test_a_member_cannot_flood_one_demand(self, personas: Personas) -> None:
        demand = make_demand(personas, consultation_campaign(personas, 1))
        for i in range(svc.COMMENTS_PER_MEMBER_PER_DEMAND):
            svc.comment_add(author=personas.member, demand=demand, body=f"c{i}", anonymous=bool(i % 2))
        with pytest.raises(ValidationError):
            svc.comment_add(author=personas.member, demand=demand, body="one more", anonymous=True)
        svc.comment_add(author=personas.steward, demand=demand, body="others still may")

    def test_hiding_needs_a_reason_and_blocks_edits(self, personas: Personas) -> None:
        demand = make_demand(personas, consultation_campaign(personas, 1))
        comment = svc.comment_add(author=personas.member, demand=demand, body="Rude words", anonymous=True)
        with pytest.raises(ValidationError):
            svc.comment_hide(actor=personas.representative, comment=comment, reason=" ")
        hidden = svc.comment_hide(actor=personas.representative, comment=comment, reason="Insults a coworker")
        assert hidden.hidden and Comment.objects.get(pk=comment.pk).hidden_reason == "Insults a coworker"
        event = AuditEvent.objects.get(action="bargaining.comment_hide")
        # The record names the comment and the moderator; nothing of the author, nor the reason.
        assert event.actor_id == personas.representative.pk and "Insults" not in json.dumps(event.details)
        with pytest.raises(ValidationError):
            svc.comment_edit(actor=personas.member, comment=comment, body="Nice words")
        svc.comment_restore(actor=personas.representative, comment=comment)
        assert not Comment.objects.get(pk=comment.pk).hidden and actions()[-1] == "bargaining.comment_restore"


@pytest.mark.django_db
def test_endorsements_toggle_one_per_member_named_or_not(personas: Personas) -> None:
    demand = make_demand(personas, consultation_campaign(personas, 1))
    assert svc.endorsement_toggle(user=personas.member, demand=demand, anonymous=True) is True
    # A second click, named or not, withdraws: one endorsement per member and demand.
    assert svc.endorsement_toggle(user=personas.member, demand=demand) is False
    assert not Endorsement.objects.exists()
    svc.endorsement_toggle(user=personas.member, demand=demand, anonymous=True)
    svc.endorsement_toggle(user=personas.steward, demand=demand)
    assert demand.endorsements.count() == 2
    anonymous = Endorsement.objects.get(user__isnull=True)
    assert anonymous.tag == svc.endorsement_tag(demand, personas.member)
    assert actions().count("bargaining.endorsement_add") == 1  # the steward's, not the anonymous one


# -- The survey --------------------------------------------------------------------------------


@pytest.mark.django_db
class TestSurvey:
    def test_opening_needs_consultation_two_demands_and_sane_dots(self, personas: Personas) -> None:
        campaign = make_campaign(personas)
        make_demand(personas, campaign)
        with pytest.raises(ValidationError):  # drafting
            svc.survey_open(actor=personas.representative, campaign=campaign, method="ranking")
        Campaign.objects.filter(pk=campaign.pk).update(stage=Campaign.Stage.CONSULTATION)
        with pytest.raises(ValidationError):  # one demand
            svc.survey_open(actor=personas.representative, campaign=campaign, method="ranking")
        make_demand(personas, campaign, title="Second")
        for bad in (0, svc.DOTS_MAX + 1):
            with pytest.raises(ValidationError):
                svc.survey_open(actor=personas.representative, campaign=campaign, method="dots", dots=bad)
        survey = svc.survey_open(actor=personas.representative, campaign=campaign, method="dots", dots=5)
        with pytest.raises(ValidationError):  # one open survey at a time
            svc.survey_open(actor=personas.representative, campaign=campaign, method="ranking")
        assert Survey.objects.count() == 1 and survey.demands.count() == 2
        assert AuditEvent.objects.get(action="bargaining.survey_open").details["method"] == "dots"

    def test_ranking_borda_and_mean_rank(self, personas: Personas) -> None:
        campaign = consultation_campaign(personas)
        third = make_member(personas.local)
        Member.objects.filter(user=third).update(unit=campaign.units.get())
        survey = svc.survey_open(actor=personas.representative, campaign=campaign, method="ranking")
        svc.survey_respond(user=personas.member, survey=survey, values=ranks(survey, 2, 1, 3))
        svc.survey_respond(user=personas.steward, survey=survey, values=ranks(survey, 2, 3, 1))
        svc.survey_respond(user=third, survey=survey, values=ranks(survey, 1, 2, 3))
        closed = svc.survey_close(actor=personas.representative, survey=survey)
        assert closed.result is not None
        rows = {row["number"]: row for row in closed.result["rows"]}
        # n = 3: first place 2 points, second 1, last 0.
        assert (rows[2]["points"], rows[1]["points"], rows[3]["points"]) == (5, 3, 1)
        assert (rows[2]["mean_rank"], rows[1]["mean_rank"], rows[3]["mean_rank"]) == ("1.33", "2.00", "2.67")
        assert [row["number"] for row in closed.result["rows"]] == [2, 1, 3] and rows[2]["firsts"] == 2
        assert closed.result["responses"] == 3 and closed.result["eligible"] == 3
        assert AuditEvent.objects.get(action="bargaining.survey_close").details == {"responses": 3, "eligible": 3}

    def test_dot_totals(self, personas: Personas) -> None:
        survey = svc.survey_open(actor=personas.representative, campaign=consultation_campaign(personas),
                                 method="dots", dots=5)
        svc.survey_respond(user=personas.member, survey=survey, values=dots(survey, a1=4, a3=1))
        svc.survey_respond(user=personas.steward, survey=survey, values=dots(survey, a3=3))
        tally = svc.survey_tally(survey)
        assert [(r["number"], r["dots"], r["backers"]) for r in tally["rows"]] == [(1, 4, 1), (3, 4, 2), (2, 0, 0)]

    @pytest.mark.parametrize("case", ["duplicate ranks", "missing demand", "too many dots", "no dots", "closed",
                                      "not in a unit", "outsider", "twice"])
    def test_bad_answers_change_nothing(self, personas: Personas, case: str) -> None:
        campaign = consultation_campaign(personas)
        method = "dots" if "dots" in case else "ranking"
        survey = svc.survey_open(actor=personas.representative, campaign=campaign, method=method, dots=5)
        user, values = personas.member, ranks(survey, 1, 2, 3) if method == "ranking" else dots(survey, a1=5)
        if case == "duplicate ranks":
            values = dict.fromkeys(values, 1)
        elif case == "missing demand":
            values.popitem()
        elif case == "too many dots":
            values = dots(survey, a1=4, a2=2)
        elif case == "no dots":
            values = dots(survey)
        elif case == "closed":
            svc.survey_close(actor=personas.representative, survey=survey)
        elif case == "not in a unit":
            user = personas.representative
        elif case == "outsider":
            user = personas.outsider
        elif case == "twice":
            svc.survey_respond(user=user, survey=survey, values=values)
        before = (Participation.objects.count(), SurveyResponse.objects.count(), SurveyAnswer.objects.count())
        with pytest.raises(ValidationError):
            svc.survey_respond(user=user, survey=survey, values=values)
        after = (Participation.objects.count(), SurveyResponse.objects.count(), SurveyAnswer.objects.count())
        assert after == before

    def test_anonymous_answers_are_joined_to_nobody(self, personas: Personas) -> None:
        campaign = consultation_campaign(personas)
        survey = svc.survey_open(actor=personas.representative, campaign=campaign, method="ranking")
        svc.survey_respond(user=personas.member, survey=survey, values=ranks(survey, 3, 1, 2))
        # The schema: a response has a random key, its survey and (named surveys only) a respondent;
        # answers hang from the response; the has-answered row has no time and no link to them.
        assert {f.name for f in SurveyResponse._meta.get_fields()} == {"id", "survey", "respondent", "answers"}
        assert {f.name for f in SurveyAnswer._meta.get_fields()} == {"id", "response", "demand", "value"}
        assert {f.name for f in Participation._meta.get_fields()} == {"id", "survey", "user"}
        for model in (SurveyResponse, SurveyAnswer):
            assert model._meta.pk is not None and model._meta.pk.get_internal_type() == "UUIDField"
        # A dump of the consultation tables: the only row naming the member is the participation.
        out = io.StringIO()
        call_command("dumpdata", "bargaining.surveyresponse", "bargaining.surveyanswer", "bargaining.participation",
                     stdout=out)
        records = json.loads(out.getvalue())
        assert [r["fields"]["respondent"] for r in records if r["model"] == "bargaining.surveyresponse"] == [None]
        answers = [r["fields"] for r in records if r["model"] == "bargaining.surveyanswer"]
        assert len(answers) == 3 and all(set(a) == {"response", "demand", "value"} for a in answers)
        assert [r["fields"] for r in records if r["model"] == "bargaining.participation"] == [
            {"survey": survey.pk, "user": personas.member.pk}]
        # The audit trail: the opening only; nothing written when the member answered.
        assert actions()[-1] == "bargaining.survey_open"
        # A named survey keeps the respondent, as it says on the page.
        svc.survey_close(actor=personas.representative, survey=survey)
        named = svc.survey_open(actor=personas.representative, campaign=campaign, method="ranking", anonymous=False)
        svc.survey_respond(user=personas.member, survey=named, values=ranks(named, 1, 2, 3))
        assert named.responses.get().respondent == personas.member

    def test_anonymous_comments_and_endorsements_in_a_dump(self, personas: Personas) -> None:
        demand = make_demand(personas, consultation_campaign(personas, 1))
        svc.comment_add(author=personas.member, demand=demand, body="CANARY-c0mment", anonymous=True)
        svc.endorsement_toggle(user=personas.member, demand=demand, anonymous=True)
        out = io.StringIO()
        call_command("dumpdata", "bargaining.comment", "bargaining.endorsement", stdout=out)
        dump = out.getvalue()
        records = json.loads(dump)
        assert all(r["fields"].get("author", None) is None and r["fields"].get("user", None) is None for r in records)
        assert "CANARY-c0mment" not in dump  # the text is encrypted at rest
        member = Member.objects.get(user=personas.member)
        assert member.pseudonym not in dump and personas.member.handle not in dump


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_survey_answered_twice_at_once_counts_once() -> None:
    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL): SQLite serializes writers")
    personas = build_personas()
    survey = svc.survey_open(actor=personas.representative, campaign=consultation_campaign(personas),
                             method="ranking")
    values = ranks(survey, 1, 2, 3)
    barrier, done, refused = threading.Barrier(6), [], []

    def answer() -> None:
        try:
            barrier.wait()
            svc.survey_respond(user=personas.member, survey=survey, values=values)
            done.append(1)
        except ValidationError:
            refused.append(1)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=answer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == 1 and len(refused) == 5
    assert SurveyResponse.objects.filter(survey=survey).count() == 1
    assert SurveyAnswer.objects.filter(response__survey=survey).count() == 3
    assert Participation.objects.filter(survey=survey).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_endorsing_twice_at_once_leaves_one_or_none() -> None:
    need(connection.vendor == "postgresql", "needs PostgreSQL (DATABASE_URL): SQLite serializes writers")
    personas = build_personas()
    demand = make_demand(personas, consultation_campaign(personas, 1))
    barrier, results = threading.Barrier(5), []

    def toggle() -> None:
        try:
            barrier.wait()
            results.append(svc.endorsement_toggle(user=personas.member, demand=demand, anonymous=True))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=toggle) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Five toggles in a row (the demand row is locked): on, off, on, off, on.
    assert sorted(results) == [False, False, True, True, True]
    assert Endorsement.objects.filter(demand=demand).count() == 1


# -- Pages -------------------------------------------------------------------------------------


@pytest.mark.django_db
class TestPages:
    def test_members_comment_endorse_and_representatives_moderate(self, personas: Personas) -> None:
        demand = make_demand(personas, consultation_campaign(personas, 1))
        member, rep = login_as(Client(), personas.member), login_as(Client(), personas.representative)
        url = reverse("bargaining:comment_add", kwargs={"code": demand.code})
        assert member.post(url, {"body": "I back this, <b>loudly</b>.", "anonymous": "on"}).status_code == 302
        assert member.post(reverse("bargaining:endorse", kwargs={"code": demand.code}), {}).status_code == 302
        page = rep.get(reverse("bargaining:demand_detail", kwargs={"code": demand.code})).content.decode()
        assert "Anonymous member" in page and "&lt;b&gt;loudly&lt;/b&gt;" in page and "1 person endorses" in page
        ids = re.findall(r'\bid="([^"]+)"', page)
        assert len(ids) == len(set(ids)), "two elements share an id: a label would point at the wrong box"
        assert Member.objects.get(user=personas.member).pseudonym not in page.split('id="comments"')[1].split("</section>")[0]
        comment = Comment.objects.get()
        # A member may not hide; the representative hides with a reason everyone then reads.
        hide = reverse("bargaining:comment_hide", kwargs={"code": comment.code})
        assert member.post(hide, {"reason": "no"}).status_code == 403
        assert rep.post(hide, {"reason": ""}).status_code == 302 and not Comment.objects.get().hidden
        assert rep.post(hide, {"reason": "Off topic"}).status_code == 302 and Comment.objects.get().hidden
        steward_view = login_as(Client(), personas.steward).get(
            reverse("bargaining:demand_detail", kwargs={"code": demand.code})).content.decode()
        assert "Off topic" in steward_view and "loudly" not in steward_view
        # The author still sees their own text, and deletes it; others may not.
        assert "loudly" in member.get(reverse("bargaining:demand_detail", kwargs={"code": demand.code})).content.decode()
        delete = reverse("bargaining:comment_delete", kwargs={"code": comment.code})
        assert login_as(Client(), personas.steward).post(delete).status_code == 404
        assert member.post(delete).status_code == 302 and not Comment.objects.exists()

    def test_comment_pages_refuse_outsiders_and_bad_input(self, personas: Personas) -> None:
        demand = make_demand(personas, consultation_campaign(personas, 1))
        url = reverse("bargaining:comment_add", kwargs={"code": demand.code})
        assert login_as(Client(), personas.outsider).post(url, {"body": "hi"}).status_code == 404
        assert login_as(Client(), personas.organizer).post(url, {"body": "hi"}).status_code == 404
        assert login_as(Client(), personas.member).post(url, {"body": ""}).status_code == 400
        endorse = reverse("bargaining:endorse", kwargs={"code": demand.code})
        assert login_as(Client(), personas.outsider).post(endorse).status_code == 404
        assert not Comment.objects.exists() and not Endorsement.objects.exists()
        comment = svc.comment_add(author=personas.member, demand=demand, body="Mine")
        edit = reverse("bargaining:comment_edit", kwargs={"code": comment.code})
        assert login_as(Client(), personas.steward).post(edit, {"body": "Yours now"}).status_code == 404
        assert login_as(Client(), personas.member).post(edit, {"body": ""}).status_code == 400
        assert login_as(Client(), personas.member).post(edit, {"body": "Mine, edited"}).status_code == 302
        assert Comment.objects.get().body == "Mine, edited"

    def test_a_survey_from_opening_to_published_results(self, personas: Personas) -> None:
        campaign = consultation_campaign(personas)
        member, rep = login_as(Client(), personas.member), login_as(Client(), personas.representative)
        assert member.post(reverse("bargaining:survey_new", kwargs={"code": campaign.code}),
                           {"method": "ranking", "anonymous": "on"}).status_code == 403
        response = rep.post(reverse("bargaining:survey_new", kwargs={"code": campaign.code}),
                            {"method": "ranking", "anonymous": "on"})
        survey = Survey.objects.get()
        assert response.status_code == 302 and survey.anonymous and survey.method == "ranking"
        detail = reverse("bargaining:survey_detail", kwargs={"code": survey.code})
        page = member.get(detail).content.decode()
        assert '<select name="article_1"' in page and '<label for="id_article_1">Article 1. Paid wellness breaks' in page
        respond = reverse("bargaining:survey_respond", kwargs={"code": survey.code})
        bad = member.post(respond, {"article_1": "1", "article_2": "1", "article_3": "3"})
        assert bad.status_code == 400 and "Give each rank once" in bad.content.decode()
        assert not Participation.objects.exists()
        assert member.post(respond, {"article_1": "2", "article_2": "1", "article_3": "3"}).status_code == 302
        assert "You have answered" in member.get(detail).content.decode()
        assert member.post(respond, {"article_1": "1", "article_2": "2", "article_3": "3"}).status_code == 400
        results = reverse("bargaining:survey_results", kwargs={"code": survey.code})
        assert member.get(results).status_code == 404  # hidden from members until the close
        live = rep.get(results).content.decode()
        assert "Live results" in live and "<svg" in live and "<caption" in live and 'scope="row"' in live
        assert member.post(reverse("bargaining:survey_close", kwargs={"code": survey.code})).status_code == 403
        assert rep.post(reverse("bargaining:survey_close", kwargs={"code": survey.code})).status_code == 302
        published = member.get(results)
        assert published.status_code == 200 and "Live results" not in published.content.decode()
        assert login_as(Client(), personas.outsider).get(results).status_code == 404

    def test_dot_voting_page_refuses_too_many_dots(self, personas: Personas) -> None:
        campaign = consultation_campaign(personas)
        survey = svc.survey_open(actor=personas.representative, campaign=campaign, method="dots", dots=3)
        member = login_as(Client(), personas.member)
        respond = reverse("bargaining:survey_respond", kwargs={"code": survey.code})
        bad = member.post(respond, {"article_1": "2", "article_2": "2", "article_3": "0"})
        assert bad.status_code == 400 and "you have 3" in bad.content.decode()
        assert member.post(respond, {"article_1": "-1", "article_2": "2", "article_3": "0"}).status_code == 400
        assert not SurveyResponse.objects.exists()
        assert member.post(respond, {"article_1": "2", "article_2": "1", "article_3": "0"}).status_code == 302
        assert svc.survey_tally(survey)["rows"][0]["dots"] == 2


@pytest.mark.django_db
def test_a_named_survey_shows_each_answer_to_the_representatives_only(personas: Personas) -> None:
    campaign = consultation_campaign(personas)
    survey = svc.survey_open(actor=personas.representative, campaign=campaign, method="dots", dots=4,
                             anonymous=False)
    svc.survey_respond(user=personas.member, survey=survey, values=dots(survey, a1=3, a2=1))
    svc.survey_respond(user=personas.steward, survey=survey, values=dots(survey, a3=4))
    results = reverse("bargaining:survey_results", kwargs={"code": survey.code})
    page = login_as(Client(), personas.representative).get(results).content.decode()
    pseudonym = Member.objects.get(user=personas.member).pseudonym
    assert "Answers by member" in page and pseudonym in page
    row = re.search(rf"<th scope=\"row\">{re.escape(pseudonym)}</th>(.*?)</tr>", page)
    assert row is not None and re.findall(r"<td>(\d*)</td>", row.group(1)) == ["3", "1", "0"]
    # The member's own page shows their answer back (a named survey); after the close the members
    # read the totals, never the table of names.
    mine = login_as(Client(), personas.member).get(reverse("bargaining:survey_detail", kwargs={"code": survey.code}))
    assert "Your answer" in mine.content.decode()
    svc.survey_close(actor=personas.representative, survey=survey)
    published = login_as(Client(), personas.member).get(results).content.decode()
    assert "Answers by member" not in published and pseudonym not in published


@pytest.mark.django_db
def test_the_demand_page_costs_the_same_queries_with_many_comments(personas: Personas) -> None:
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    demand = make_demand(personas, consultation_campaign(personas, 1))
    member = login_as(Client(), personas.member)
    url = reverse("bargaining:demand_detail", kwargs={"code": demand.code})
    svc.comment_add(author=personas.steward, demand=demand, body="one")
    with CaptureQueriesContext(db) as few:
        member.get(url)
    for i in range(12):
        author = make_member(personas.local)
        svc.comment_add(author=author, demand=demand, body=f"more {i}", anonymous=bool(i % 2))
    with CaptureQueriesContext(db) as many:
        page = member.get(url)
    assert "more 11" in page.content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)


@pytest.mark.django_db
def test_the_audit_log_names_consultation_events_in_words(personas: Personas) -> None:
    campaign = consultation_campaign(personas)
    survey = svc.survey_open(actor=personas.representative, campaign=campaign, method="dots", dots=7)
    comment = svc.comment_add(author=personas.member, demand=campaign.demands.get(number=1), body="x", anonymous=True)
    svc.comment_hide(actor=personas.representative, comment=comment, reason="Off topic")
    svc.survey_close(actor=personas.representative, survey=survey)
    page = login_as(Client(), personas.local_admin).get(reverse("audit_log")).content.decode()
    for words in ("Priorities survey opened", "Method: Dot-voting: spread a number of dots", "Dots: 7",
                  "Anonymous: yes", "Comment on a demand hidden by a representative",
                  "Priorities survey closed and counted", "Answers: 0"):
        assert words in page, words
    assert "Off topic" not in page and "Other action" not in page


@pytest.mark.django_db
def test_only_the_author_reaches_an_anonymous_comments_pages_and_others_see_no_page(personas: Personas) -> None:
    """Edit and delete answer 404 to everyone but the author, a moderator included: the same answer
    as a missing comment, so the pages tell nobody who wrote an anonymous comment."""
    demand = make_demand(personas, consultation_campaign(personas, 1))
    comment = svc.comment_add(author=personas.member, demand=demand, body="Mine", anonymous=True)
    edit = reverse("bargaining:comment_edit", kwargs={"code": comment.code})
    delete = reverse("bargaining:comment_delete", kwargs={"code": comment.code})
    for persona in (personas.steward, personas.representative, personas.local_admin, personas.outsider):
        client = login_as(Client(), persona)
        assert client.get(edit).status_code == 404
        assert client.post(delete).status_code == 404
    assert Comment.objects.filter(pk=comment.pk).exists()
    assert login_as(Client(), personas.member).get(edit).status_code == 200


@pytest.mark.django_db
def test_the_comment_and_named_answer_rules_live_in_permissions(personas: Personas) -> None:
    from bargaining.permissions import can_edit_comment, can_see_named_answers

    campaign = consultation_campaign(personas)
    comment = svc.comment_add(author=personas.member, demand=campaign.demands.get(number=1), body="x")
    assert can_edit_comment(personas.member, comment) and not can_edit_comment(personas.steward, comment)
    svc.comment_hide(actor=personas.representative, comment=comment, reason="Off topic")
    comment.refresh_from_db()
    assert not can_edit_comment(personas.member, comment)
    named = svc.survey_open(actor=personas.representative, campaign=campaign, method="dots", dots=4, anonymous=False)
    assert can_see_named_answers(personas.representative, named) and can_see_named_answers(personas.local_admin, named)
    assert not can_see_named_answers(personas.member, named) and not can_see_named_answers(personas.steward, named)
    svc.survey_close(actor=personas.representative, survey=named)
    anonymous = svc.survey_open(actor=personas.representative, campaign=campaign, method="dots", dots=4)
    assert not can_see_named_answers(personas.representative, anonymous)


@pytest.mark.django_db
def test_closing_a_closed_survey_says_so_and_changes_nothing(personas: Personas) -> None:
    survey = svc.survey_open(actor=personas.representative, campaign=consultation_campaign(personas),
                             method="ranking")
    svc.survey_close(actor=personas.representative, survey=survey)
    survey.refresh_from_db()
    before = (survey.closed_at, survey.result, AuditEvent.objects.count())
    rep = login_as(Client(), personas.representative)
    response = rep.post(reverse("bargaining:survey_close", kwargs={"code": survey.code}), follow=True)
    assert response.redirect_chain == [(reverse("bargaining:survey_detail", kwargs={"code": survey.code}), 302)]
    assert str(svc.ERR_CLOSED) in [str(m) for m in response.context["messages"]]
    survey.refresh_from_db()
    assert (survey.closed_at, survey.result, AuditEvent.objects.count()) == before
