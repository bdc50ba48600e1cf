"""Synthetic sales calls for the demo, the tests and throughput benchmarks.

The calls are realistic enough for the scorecards to tell reps apart: every rep in
``REPS`` has a selling style (see ``STYLES``) that decides what their turns do, how long
they talk and how quickly they answer, and the customer reacts to each turn (an open
question earns a story, a feature monologue earns "mm-hmm"). Text comes from hand-written
phrase banks with slots filled per industry, and about 30% of calls read like speech
recognition output (``asr_noise``).

``generate_calls`` returns canonical call dicts, the single source of truth; the writers
only render them: about half as canonical JSON, a quarter as WebVTT (Zoom, Teams or Meet
dialect) with a ``.meta.json`` sidecar, and a quarter inside Gong API exports of 5-15 calls.
Everything is driven by ``random.Random`` instances seeded from (seed, date) with
``zlib.crc32``, so the same arguments always write byte-identical files and one day does
not change when other days, or the number of deliberately bad files, change.
"""

from __future__ import annotations

import bisect
import csv
import io
import json
import logging
import posixpath
import random
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fsspec

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Phrase banks. A bank's name starts with what the turn does: probe_ (knowledge_probing),
# rapport_, trust_ (trust_commitment), other_, cust_ (customer) or se_ (sales engineer).
# {slots} are filled per call and per use (see _context). No "<", ">" or "&": they would need
# escaping in WebVTT.
# ---------------------------------------------------------------------------------------------

BANKS: dict[str, tuple[str, ...]] = {
    # ---- knowledge_probing: learning the customer's world ----
    "probe_open": (
        "How are you handling {thing} today?",
        "Walk me through how {thing} works today, start to finish.",
        "How does {thing} work at {company} right now?",
        "What does a typical week look like for the people who own {thing}?",
        "Where does {thing} tend to break down?",
        "What made you take this call now rather than six months ago?",
        "How do you measure {metric} today, and who looks at it?",
        "What have you already tried to fix {thing}?",
        "How does information get from {tool} to the people who need it?",
        "What happens when something falls through the cracks in {thing}?",
        "Who touches {thing} first, and where does it go next?",
        "What does your team spend the most time on that they shouldn't?",
        "How are new people trained on {thing}?",
        "What's the biggest headache for your team this quarter?",
        "What are you hoping changes by the end of the year?",
        "How do exceptions get handled when {tool} doesn't cover them?",
        "Where is {metric} today compared to where you want it?",
        "If you had a magic wand, what would you change first about {thing}?",
    ),
    "probe_closed": (
        "Is {thing} still tracked in {tool}?",
        "Is that on spreadsheets?",
        "Do you have a dedicated person for {thing}, or is it shared?",
        "Is {metric} something your leadership reviews every month?",
        "Are you running {tool} on premise or in the cloud?",
        "Is that the same process across all your locations?",
        "Did that change after the reorg?",
        "Is there a budget set aside for this already?",
        "Is {role} involved in this decision?",
        "Do you have a deadline you're working against?",
        "Are you the one who owns {thing}, or does that sit with another team?",
        "Have you looked at other vendors for this?",
    ),
    "probe_elaborate": (
        "Tell me more.",
        "Tell me more about that.",
        "Say more about that?",
        "What do you mean by messy?",
        "Interesting. Why is that?",
        "Can you give me an example?",
        "How so?",
        "Go on, what happened next?",
        "Walk me through the last time that happened.",
        "What's behind that, do you think?",
    ),
    "probe_summary": (
        "So if I heard you right, the bottleneck is {thing}. Is that fair?",
        "Let me play that back: {thing} takes too long because everything goes through {tool}. Did I get that right?",
        "So the real issue isn't the tool, it's the hand-offs between teams. Is that accurate?",
        "Just to make sure I understand, {metric} is the number your boss cares about most?",
        "So it sounds like {role} needs visibility and your team needs less manual work. Did I miss anything?",
        "If I'm hearing you correctly, the pain shows up at month end. Is that right?",
        "So what I'm hearing is that the process works, but it doesn't scale. Fair?",
        "Okay, so two problems: speed on {thing} and accuracy in {tool}. Which one hurts more?",
        "Let me make sure I have this straight. Nobody owns {thing} end to end today, right?",
        "So, to summarize: {metric} is slipping and the team is stretched. Anything I left out?",
    ),
    "probe_impact": (
        "What would it mean for your team if {metric} improved by {pct}?",
        "What does it cost you when {thing} slips by a week?",
        "If nothing changes, where does that leave you next year?",
        "How would you know, six months from now, that this was a success?",
        "What happens to {metric} if you add another location without fixing this?",
        "Who feels the pain most when {thing} goes wrong?",
        "What would your team do with the hours they'd get back?",
        "How much time would you say goes into {thing} every week?",
        "What's the impact on your customers when that happens?",
        "If you could fix one number by the end of the quarter, which would it be?",
    ),
    "probe_decision": (
        "Who else should be part of this conversation?",
        "How do decisions like this usually get made at {company}?",
        "What does the approval process look like once you pick a vendor?",
        "Does {role} have any concerns we should know about early?",
        "What's your timeline for having something in place?",
        "Is there a budget range you're working within?",
        "What would make {role} say no to this?",
        "Who signs off on the final contract?",
        "What other priorities is this competing with right now?",
        "What criteria will you use to compare options?",
    ),
    "probe_social": (  # sounds social, asks about their operation
        "Did you end up opening the new location you mentioned last time?",
        "How did the move to {tool} go in the end?",
        "Did the new hires start yet, and how are you ramping them on {thing}?",
        "Congrats on the launch! How are you onboarding new hires now?",
        "Congrats on the funding round! How does that change your plans for {thing}?",
        "How was the offsite? Did {thing} come up as a priority?",
        "Did the reorg settle down, and who owns {thing} now?",
        "Last time you mentioned the audit. How did that go?",
    ),
    # ---- rapport: personal or social connection ----
    "rapport_greet": (
        "{cust}! So good to see you again.",
        "Hey {cust}, great to finally meet you, well, screen to screen.",
        "Hi {cust}, it's really nice to reconnect. How have you been?",
        "Good morning {cust}! I hope you had a lovely weekend.",
        "Hi {cust}, thanks so much for making time, I know this week is crazy for you.",
        "{cust}, hello! I was looking forward to this one all week.",
        "Hey there {cust}, always a pleasure.",
        "Hi {cust}! Love the new background, is that your place?",
    ),
    "rapport_smalltalk": (
        "How was the weekend? Did you get out at all?",
        "Is it still snowing over there?",
        "I saw the game last night. What a finish!",
        "How was the trip to {place}?",
        "Are you doing anything fun for the holidays?",
        "I think you mentioned your daughter started college this fall. How's she liking it?",
        "Is that a dog I hear in the background? What's his name?",
        "We just had the first sunny day in weeks here, I almost cancelled all my calls.",
        "Did you make it to the marathon in the end?",
        "I've been meaning to ask, how's the new house coming along?",
        "My kids have been sick all week, so I'm running on coffee today.",
        "Have you had a chance to try that ramen place I told you about?",
        "How's the hometown treating you? I heard it's beautiful this time of year.",
        "I'm heading to {place} next month, any tips?",
        "How did your son's soccer tournament go?",
        "Are you a football person? I can't stop thinking about that last quarter.",
    ),
    "rapport_story": (
        "We just got back from a week at the lake with the kids.",
        "My daughter just started playing hockey, so my weekends are all ice rinks now.",
        "I finally finished the kitchen renovation, only four months late.",
        "We adopted a rescue dog last month, and he's already eaten two pairs of shoes.",
        "I ran my first half marathon on Sunday, and I can barely walk today.",
        "My in-laws are visiting, so the house is a bit chaotic.",
        "I've been trying to learn Spanish before our trip, and it's going slowly.",
        "We did a family trip to {place} last summer and loved every minute.",
    ),
    "rapport_compliment": (
        "Congrats on the Series B, that's huge!",
        "Love the new office, by the way.",
        "I saw {company} in the news last week. Congratulations, that's a big deal.",
        "Congratulations on the promotion, well deserved.",
        "That's a great setup you have there, the bookshelf is impressive.",
        "Your team's post about the launch was really well done.",
        "Honestly, you've built something special over there.",
        "Your talk at the conference was the highlight of the day for me.",
        "Congrats on the award, your team must be thrilled.",
        "You always ask the sharpest questions, I appreciate that.",
    ),
    "rapport_humor": (
        "Ha, spreadsheets: the real operating system of every company.",
        "If I had a dollar for every tab in that spreadsheet, I'd retire.",
        "Ha, I promise this won't be one of those calls that could have been an email.",
        "My camera adds ten pounds and about three years, so bear with me.",
        "Ha, I think every {industry} team has a spreadsheet nobody is allowed to touch.",
        "Well, at least the printer isn't on fire this time.",
        "Don't worry, I won't make you sit through fifty slides. Maybe forty.",
        "Ha, Mondays should be illegal before ten.",
    ),
    "rapport_empathy": (
        "That sounds exhausting.",
        "Oh no, I hope your son feels better soon.",
        "That sounds really frustrating, especially at quarter end.",
        "Honestly, that would drive me up the wall too.",
        "I'm sorry, that's a rough week to have.",
        "That's a lot to carry with a team that small.",
        "Ugh, nobody should have to chase people about {thing} at midnight.",
        "I can only imagine what that did to your weekend.",
        "That sounds stressful, and it's not your fault.",
        "Wow, that's a tough spot to be in.",
    ),
    "rapport_farewell": (
        "Enjoy the trip to {place}!",
        "Enjoy the long weekend, and good luck at the marathon!",
        "Have a wonderful holiday with the family, {cust}.",
        "Take care of yourself, and I hope the little one feels better.",
        "Always a pleasure, {cust}. Say hi to the team for me.",
        "Have a great rest of your week, and enjoy the sunshine!",
        "Good luck with the move, I hope it goes smoothly!",
        "Great talking with you, {cust}. Go get some rest, you've earned it.",
    ),
    # ---- trust_commitment: commitments, outcomes, guarantees, proof ----
    "trust_commit": (
        "I'll send the security answers {when}.",
        "Let me loop in {se}, our solutions engineer, and get back to you {when}.",
        "I'll send over a summary of today with the numbers we discussed {when}.",
        "I'll send the invite for Tuesday.",
        "I'll put together a rollout plan for {thing} and share it {when}.",
        "I'll set up the sandbox so your team can try it with real data {when}.",
        "I'll get you the reference contact at {peer} {when}.",
        "Let me draft the business case with your numbers on {metric} and send it over {when}.",
        "I'll talk to our legal team about the data processing terms and come back to you {when}.",
        "I'll personally check with product on the {tool} integration and report back {when}.",
        "I'll book a session with {se} for your IT team next week.",
        "I'll send you the updated proposal {when}, with the pilot pricing we talked about.",
        "I'll follow up with {role} directly so you don't have to chase it.",
        "Let me get you a written implementation timeline {when}.",
    ),
    "trust_outcome": (
        "We'll have your team live in {weeks}.",
        "We'll have you live {weeks} from kickoff.",
        "You should see {metric} improve by about {pct} in the first quarter.",
        "Based on your volumes, you should get back around {n} hours a week per person on {thing}.",
        "We'll have {thing} fully migrated before your busy season.",
        "By the end of the pilot you'll have a clear before and after on {metric}.",
        "Your team won't have to touch {tool} for {thing} anymore after go-live.",
        "We'll get you to zero missed renewals from month one.",
        "You'll have real-time visibility into {thing} from the first week.",
        "We'll cut the manual steps in {thing} roughly in half, and I'll show you the numbers as we go.",
    ),
    "trust_guarantee": (
        "If anything breaks, you call me directly. I own this.",
        "We commit to a 99.9% uptime SLA, and it's in the contract.",
        "If we don't hit the pilot goals, you walk away and owe us nothing.",
        "You'll have a named customer success manager from day one, and I'll stay on the account.",
        "We're SOC 2 Type II certified, and I'll send you the report today.",
        "Any critical issue gets a response within one hour, guaranteed.",
        "I'll be on every check-in during the first ninety days, that's my commitment.",
        "We put the success criteria in writing, and we review them together every month.",
    ),
    "trust_proof": (
        "We did this for {peer}; they cut {metric} by {pct} in six months.",
        "A customer like you cut close time from 9 days to 3.",
        "{peer} went live in five weeks and reduced manual work on {thing} by {pct}.",
        "We've rolled this out for over forty {industry} teams, and I can connect you with two of them.",
        "Last year we helped {peer} pass their audit with zero findings on {thing}.",
        "At {peer}, {metric} improved by {pct} within the first quarter, and they expanded to every site.",
        "We did this for a 200-bed hospital group; they cut no-shows 18%.",
        "I can share the case study from {peer}, they had almost the exact same setup with {tool}.",
        "Our integration with {tool} is used by more than 300 customers in production today.",
        "The operations lead at {peer} is happy to take a call with you, she ran the same rollout last spring.",
        "We've been doing {thing} for {industry} companies for eight years, and our average rollout takes six weeks.",
        "One of our customers in {industry} saved about 1,200 hours last year on {thing} alone.",
    ),
    "trust_followup": (
        "As promised, here's the ROI model.",
        "As promised, I brought the reference list, three {industry} customers your size.",
        "Like I said last week, I checked with engineering, and the {tool} connector is already in production.",
        "I sent the security questionnaire back yesterday, as I said I would.",
        "Following up on what I promised: the pilot plan is in your inbox.",
        "I got you that answer from product: the export runs nightly, and I confirmed it with the team.",
        "As I committed last time, I've set up the sandbox with your sample data.",
    ),
    "trust_recap": (
        "So on my side: pricing {when} and the security doc.",
        "Okay, my action items are the proposal, the reference call with {peer}, and the sandbox.",
        "To recap what I owe you: the implementation plan {when} and an intro to {se}.",
        "So I'll send the summary tonight, and I'll set up the call with {role} for next week.",
        "On our end, I'll have the contract redlines back to you {when} and the rollout plan right after.",
    ),
    "trust_willdo": (
        "Will do.",
        "Yep, no problem.",
        "Absolutely, I'll send it right after the call.",
        "Sure, consider it done.",
        "Yes, I'll take care of that today.",
        "Of course, I'll get that to you.",
    ),
    # ---- other: logistics, agenda, product, pricing, backchannels, rituals, hedges ----
    "other_greet": (
        "Hi {cust}.",
        "Hi, thanks for joining.",
        "Hello, can you hear me okay?",
        "Hi there, this is {me} from Seller.io.",
        "Good morning.",
        "Hey {cust}, thanks for the time today.",
    ),
    "other_farewell": (
        "Thanks, bye.",
        "Talk soon.",
        "Okay, bye.",
        "Thanks everyone, have a good one.",
        "Alright, thanks for your time.",
        "Bye now.",
    ),
    "other_backchannel": (
        "Mm-hmm.", "Right.", "Got it.", "Yeah.", "Okay.", "Sure.", "Uh-huh.", "Makes sense.", "I see.", "Yep.",
        "Right, right.", "Okay, got it.", "Interesting.", "Sure, sure.", "Mm.",
    ),
    "other_ack": (
        "Got it, that's helpful.",
        "Okay, that makes sense.",
        "Thanks for walking me through that.",
        "Right, that lines up with what we usually see.",
        "That's really useful context.",
        "Understood.",
        "Interesting, I hadn't thought about it that way.",
        "Okay, so that's helpful.",
        "Fair enough.",
        "Okay, I'm writing that down.",
    ),
    "other_logistics": (
        "Can you see my screen?",
        "Let me share my screen real quick.",
        "Sorry, you cut out for a second there. Can you hear me now?",
        "I think you're on mute.",
        "Let me just pull up the right tab.",
        "Hang on, my video froze.",
        "Is it okay if I record this for my notes?",
        "Do we still have until half past, or do you need to drop early?",
        "I'll stop sharing now.",
        "Sorry about the echo, let me switch to my headset.",
        "Give me one second, the slides are loading.",
        "Can everyone see the dashboard now?",
    ),
    "other_agenda": (
        "My plan today is to understand your process, then show you a few things.",
        "So the agenda I had in mind: quick intros, then your priorities, then a short demo.",
        "I'd like to spend the first half on your side and the second half on ours.",
        "We have thirty minutes, so I'll keep the slides short.",
        "Today I thought we'd walk through the proposal and pricing.",
        "Let's start with a recap of last time, then go through the open questions.",
        "I'll give a quick overview of {product} and then we can dig into whatever is most useful.",
        "I'd love to save ten minutes at the end for next steps.",
    ),
    "other_product": (
        "The dashboard has twelve widgets, and you can drag them around however you like.",
        "{feature} lets you set rules for {thing} without writing any code.",
        "Everything syncs with {tool} both ways, every fifteen minutes.",
        "The model needs two weeks to learn your data.",
        "You can filter by region, owner, or status, and save the view for later.",
        "{product} comes with {feature}, so managers see the same numbers as the team.",
        "Here you can see every open item, color-coded by priority.",
        "The mobile app works offline and syncs when you're back online.",
        "Permissions are role-based, so each team only sees what they need.",
        "Reports can be scheduled and sent out as PDFs every Monday.",
        "There's an audit log on every record, so you can see who changed what.",
        "You can bulk import from a CSV or connect directly to {tool}.",
        "Alerts go out by email or Slack when something is overdue.",
        "This view shows the whole pipeline for {thing} in one place.",
        "We also have an open API, so your developers can build on top of it.",
        "Templates come preloaded for {industry}, and you can customize every field.",
        "{feature} is included in every plan, along with unlimited viewer seats.",
        "If you click here, it opens the full history of the record.",
        "The forecasting module looks at the last twelve months and projects forward.",
        "We support SSO with Okta, Azure AD and Google.",
        "Every change is versioned, so you can roll back a workflow in one click.",
        "The home screen adapts to the role, so a manager lands on the team view.",
        "You can tag records and build saved searches on any tag.",
        "The inbox pulls every open request for {thing} into one queue.",
        "Comments and mentions live right on the record, so nobody digs through email.",
        "There's a sandbox environment included, so you can test changes safely.",
        "The workflow builder is drag and drop, with conditions and approvals.",
        "Any table can be exported or pushed to {tool} on a schedule.",
        "We built a Chrome extension, so people can log things without switching tabs.",
        "{feature} handles the routing, so the right person gets each item.",
        "Dashboards refresh every five minutes, and you can embed them anywhere.",
        "There's a full activity timeline for each customer, going back years.",
        "We just shipped a new AI assistant that drafts the summary for you.",
        "Notifications are configurable per user, so nobody gets spammed.",
        "Field-level validation catches bad data before it's saved.",
    ),
    "other_pricing": (
        "Pricing is per seat, twenty-eight dollars per user per month on the annual plan.",
        "The enterprise tier is priced per site, with volume discounts above ten sites.",
        "Implementation is a one-time fee, usually between five and fifteen thousand depending on scope.",
        "The list price for your size would be around forty-two thousand a year.",
        "We bill annually, and the first year includes onboarding.",
        "There's a discount if you sign a two-year agreement.",
        "Add-ons like {feature} are priced separately.",
        "For a pilot, we usually do a flat fee for ninety days.",
    ),
    "other_pitchcheck": (
        "Does that make sense?",
        "Does the demo make sense so far?",
        "Pretty cool, right?",
        "Are you with me so far?",
        "Does that look like something you'd use?",
        "Make sense?",
        "Can you see how that would work for you?",
        "You follow?",
        "Isn't that neat?",
        "Does that all click?",
    ),
    "other_vague": (
        "Lots of companies like yours love us.",
        "Everyone who tries it is thrilled.",
        "It's a great product, honestly the best on the market.",
        "Our customers just love how easy it is.",
        "It's really powerful, you'll see.",
        "We're the leader in this space, pretty much everyone uses us.",
        "Trust me, your team is going to love it.",
        "It basically runs itself.",
        "We're growing super fast, lots of {industry} teams are switching to us.",
        "It's a game changer, it really is.",
        "Honestly, once people see it, they never go back.",
        "It's the easiest tool you'll ever roll out.",
        "Everybody in {industry} is talking about us right now.",
        "You won't find anything like it out there.",
    ),
    "other_hedge": (
        "We'll see what we can do.",
        "I'd have to check.",
        "Maybe sometime next week, we'll see.",
        "I can't promise anything, but I'll ask around.",
        "That might be possible, it depends on a few things.",
        "Let's see how things go and take it from there.",
        "Possibly, I'm not sure what the roadmap looks like.",
        "I'll try, no guarantees though.",
    ),
    "other_offer": (
        "Should I follow up next week?",
        "Would a demo help?",
        "Would it be useful if I sent over some material?",
        "Do you want me to set up a call with {se}?",
        "Would it help to bring {role} into the next call?",
        "Should we pencil in some time for a deeper dive?",
        "Would a trial make sense for your team?",
        "Want me to send the slides after this?",
    ),
    # ---- the sales engineer (internal) ----
    "se_answer": (
        "The data model is flexible, so we can mirror how you structure {thing} today.",
        "We usually start with a read-only sync, validate the data, then switch on write-back.",
        "Most of the setup is configuration, not code, so your admins can own it.",
        "The API is rate limited, but the limits are well above what you'd need.",
        "Let me show you the admin console, that'll answer it faster.",
        "For provisioning we support SCIM, so accounts follow your directory.",
    ),
    # ---- customers ----
    "cust_greet": (
        "Hi, good to see you too.",
        "Hey! Doing well, thanks.",
        "Hi there, yes, I can hear you fine.",
        "Hello, sorry I'm a couple minutes late, back-to-back today.",
        "Hi, thanks for setting this up.",
        "Hey, good morning.",
        "Hi! Ha, thanks, all good here.",
        "Hello! Busy week, but good.",
    ),
    "cust_smalltalk": (  # fits a question or a story
        "Ha, it was good, thanks for asking.",
        "Oh, don't get me started.",
        "Ha, I hear you.",
        "Pretty good, honestly. Busy, but good.",
        "Oh, that's a whole story, I'll tell you next time.",
        "Ha, yes! We should compare notes sometime.",
        "It was great, thanks. Way too short, though.",
        "Ha, funny, I was just talking about that this morning.",
        "Oh, nice! I'm a little jealous.",
        "Not bad at all, thanks for remembering.",
        "Ha, tell me about it.",
        "It's been a lot, but in a good way.",
    ),
    "cust_personal": (
        "We finally took the kids camping, and it rained the entire time.",
        "My partner just started a new job, so the house is a bit upside down.",
        "We're training for a 10k in the spring, slowly.",
        "Our dog had surgery last week, but he's bouncing back already.",
        "We went up to the cabin, no cell signal at all, and it was perfect.",
        "My son's team made the playoffs, so that's my whole weekend gone.",
        "We're redoing the garden, which mostly means I'm digging.",
        "My parents were in town, so we did all the tourist things.",
        "I tried that new Thai place downtown, it's worth the hype.",
        "We just booked a trip to {place} for the spring.",
    ),
    "cust_answer": (
        "Right now it's mostly manual, people copy things from {tool} into a spreadsheet.",
        "Honestly, {thing} is where everything slows down.",
        "We have two people who spend most of their week on {thing}.",
        "The problem is nobody really owns it end to end.",
        "{metric} has been getting worse for three quarters now.",
        "We tried fixing it with {tool} last year, but adoption was terrible.",
        "Every month end we end up chasing people over email.",
        "Leadership keeps asking for numbers we can't pull without a week of work.",
        "The team is good, they're just drowning in busywork.",
        "We're opening two new sites next year, so it's only going to get worse.",
        "I'd say {metric} is about {pct} off where we want it.",
        "It depends on who's on shift, which is exactly the problem.",
        "We've had a couple of painful audits because of gaps in {thing}.",
        "Most of it lives in {tool}, but half the team keeps their own notes on the side.",
        "When someone's out sick, {thing} basically stops.",
        "I'd say we lose a good ten hours a week to it, maybe more.",
        "{boss} wants a single view, and right now we just can't give it to them.",
        "We had a consultant look at it, and they told us what we already knew.",
        "The hand-off to finance is where it really breaks.",
        "Our biggest customer complained about it twice this quarter.",
        "We've grown a lot, and the process just hasn't kept up.",
        "I inherited this setup when I joined, and nobody really documented it.",
        "The budget is there, but it has to show a return within the year.",
        "{boss} will have the final say, but I'm the one who has to live with it.",
        "We'd like something in place before the new fiscal year.",
        "We looked at two other vendors, but neither handled {thing} well.",
        "Ideally, the team would stop typing everything in twice.",
        "It's not terrible, it's just slow and nobody trusts the numbers.",
        "We run {thing} out of {tool} plus about a dozen spreadsheets.",
        "Every site does it a little differently, which makes reporting a nightmare.",
        "The numbers on {metric} come out three weeks late, so we're always looking backwards.",
        "Procurement usually takes six to eight weeks once we've picked someone.",
    ),
    "cust_continue": (
        "And the worst part is, we only find out when a customer complains.",
        "So then someone has to go back and fix it by hand.",
        "And that's before we even get to reporting.",
        "Yeah, and it happened again last week.",
        "So it's a lot of firefighting, basically.",
        "And honestly, people are burning out.",
        "Then it sits in somebody's inbox for days.",
        "Which means {metric} looks worse than it really is.",
        "And every time we hire someone, we have to teach them all the workarounds.",
        "So yeah, that's where we are.",
        "It's gotten better, but not by much.",
        "And {boss} keeps asking why it takes so long.",
    ),
    "cust_short": (
        "Yeah, mostly.", "Not really, no.", "Yes, {tool}.", "Sort of, it depends on the site.", "Yep, every month.",
        "No, it's shared across the team.", "Good question. I think so.", "Yes, spreadsheets, unfortunately.",
        "I'd have to check, but probably.", "Not yet.", "Yes, that's right.", "Partly.",
    ),
    "cust_backchannel": (
        "Mm-hmm.", "Yeah.", "Okay.", "Right.", "Sure.", "Uh-huh.", "Got it.", "Yep.", "Okay, yeah.", "Cool.",
        "Right, okay.", "Mm.",
    ),
    "cust_react": (
        "Okay, interesting.",
        "That looks pretty clean.",
        "Yeah, makes sense.",
        "Sure, I think so.",
        "Okay. I'm not sure how that fits with {tool} though.",
        "Hm, I'd have to see it with our data.",
        "That's nice, but it's not really our problem.",
        "Right. I follow.",
        "I see, okay.",
        "Yeah, I can see that being useful for {thing}.",
    ),
    "cust_request": (
        "Could you send me the deck after this?",
        "Can you send over the security documentation?",
        "Could you put the pricing in writing?",
        "Can you share a case study we could show {boss}?",
        "Could you set up a sandbox for us?",
        "Can you send me a summary I can forward internally?",
        "Would you mind sending the invite for next week?",
        "Can you check whether the {tool} connector handles custom fields?",
    ),
    "cust_commit": (
        "Great, that would be really helpful.",
        "Perfect, thank you.",
        "That would make my life a lot easier.",
        "Okay, that's reassuring.",
        "Good to hear, I'll hold you to it.",
        "That's impressive, actually.",
        "Sounds good, I'll keep an eye out for it.",
        "Okay, I'd love to talk to them.",
    ),
    "cust_thanks": (
        "Ha, thank you, it's been a wild year.",
        "Thanks, that means a lot.",
        "Oh, thank you! The team worked really hard on it.",
        "Yeah, it's been a lot, but we'll get through it.",
        "Thanks, I appreciate you saying that.",
        "Ha, you're not wrong.",
        "Thanks. It's been one of those weeks.",
        "Ha! Too true.",
    ),
    "cust_agenda": (
        "Sounds good.", "Works for me.", "Perfect, let's do it.", "Sure, go ahead.",
        "Yeah, that's fine. I have a hard stop at the hour.", "Great, I have a few questions too.",
    ),
    "cust_logistics": (
        "Yep, I can see it.", "Yes, you're good now.", "Oh, sorry, I was on mute.", "Sure, go ahead and record.",
        "We're fine on time.", "Hang on, it's still loading. Okay, there it is.",
    ),
    "cust_offer": (
        "Sure, that works.", "Yes, next week is good.", "Let me check with the team first.", "Yeah, send it over.",
        "Maybe, let's see how the next few weeks go.", "That would be helpful, yes.",
    ),
    "cust_price": (
        "Hm, that's more than we budgeted.", "Okay, and is that per site or in total?",
        "That's in the range we expected.", "I'll need to run that by {boss}.", "Is there any flexibility on that?",
        "Okay, noted.",
    ),
    "cust_close": (
        "Sounds good, I'll share it with {boss}.", "Great, thanks for pulling that together.",
        "Perfect, I'll look out for it.", "Okay, let's talk next week then.", "Works for me.",
        "Alright, I'll get back to you after our internal meeting.",
    ),
    "cust_bye": ("Thanks, bye!", "Take care, talk soon.", "Thank you, you too!", "Bye now.", "Thanks, have a good one.",
                 "Cheers, bye."),
    "cust_lead": ("Yeah.", "Hm.", "Good question.", "Honestly?", "Oh, yeah.", "Well.", "So, yeah."),
}

# Customer questions with the answer the rep (or the sales engineer) gives; an answer is `other`.
QA: tuple[tuple[str, str], ...] = (
    ("How does that work with {tool}?", "There's a native connector for {tool}, it syncs both ways every few minutes."),
    ("What does pricing look like?", "It's per seat, and for a team your size it lands around forty thousand a year."),
    ("How long does implementation usually take?", "Most teams your size take about six weeks, with integrations."),
    ("Is the data hosted in the US?", "We host in the US or the EU, your choice, and it never leaves that region."),
    ("Do you support single sign-on?", "Yes, single sign-on with Okta, Azure AD or Google, on every plan."),
    ("Can we export everything if we leave?", "Yes, exports go to CSV, Excel, or straight into your warehouse."),
    ("How many people would need training?", "Usually just the admins, the rest of the team picks it up in an hour."),
    ("Who else in {industry} is using this?", "A good number of {industry} teams, mostly mid-size ones like yours."),
    ("What happens if the sync fails?", "It retries automatically, and the admin gets an alert after three failures."),
    ("Can admins change the workflow themselves?", "Good question. Admins can change the workflow without calling us."),
    ("Is there a limit on records?", "No, there's no limit on the number of records."),
    ("What does support look like after go-live?", "Support is by chat and email, with phone support on the top tier."),
)

# Sentences that may precede a turn's main sentence. Only kinds of equal or lower precedence
# (trust > probing > rapport > other), so the turn keeps the label of its main sentence.
EXPAND: dict[str, tuple[str, ...]] = {
    "probe_open": ("other_ack", "other_product"), "probe_closed": ("other_ack", "other_product"),
    "probe_impact": ("other_ack",), "probe_decision": ("other_ack",), "probe_summary": ("other_ack",),
    "rapport_smalltalk": ("rapport_story",), "rapport_compliment": ("rapport_humor",),
    "trust_commit": ("trust_proof", "other_product"),
    "trust_outcome": ("other_product", "other_product", "trust_proof"),
    "trust_proof": ("other_product", "trust_proof"), "trust_guarantee": ("trust_proof",),
    "other_product": ("other_product",), "other_vague": ("other_product", "other_vague"),
    "other_pitchcheck": ("other_product", "other_vague"), "other_pricing": ("other_pricing", "other_product"),
}

# How the customer answers each kind of rep turn (weights).
REPLY: dict[str, dict[str, float]] = {
    "rapport_greet": {"cust_greet": 1}, "other_greet": {"cust_greet": 1},
    "rapport_smalltalk": {"cust_smalltalk": 1}, "rapport_compliment": {"cust_thanks": 1},
    "rapport_humor": {"cust_thanks": 1, "cust_backchannel": 1},
    "rapport_empathy": {"cust_continue": 2, "cust_thanks": 1},
    "probe_open": {"cust_story": 3, "cust_answer": 1}, "probe_impact": {"cust_story": 2, "cust_answer": 1},
    "probe_decision": {"cust_answer": 2, "cust_story": 1}, "probe_elaborate": {"cust_story": 1},
    "probe_summary": {"cust_short": 1, "cust_answer": 2}, "probe_closed": {"cust_short": 3, "cust_answer": 1},
    "probe_social": {"cust_answer": 1, "cust_story": 1},
    "trust_commit": {"cust_commit": 4, "cust_question": 1, "cust_request": 1},
    "trust_outcome": {"cust_commit": 3, "cust_question": 1}, "trust_guarantee": {"cust_commit": 1},
    "trust_proof": {"cust_commit": 3, "cust_question": 1, "cust_request": 1}, "trust_followup": {"cust_commit": 1},
    "trust_willdo": {"cust_commit": 1, "cust_backchannel": 1}, "trust_recap": {"cust_close": 1},
    "other_backchannel": {"cust_continue": 3, "cust_answer": 1},
    "other_answer": {"cust_react": 2, "cust_question": 1, "cust_backchannel": 1, "cust_request": 1},
    "other_product": {"cust_backchannel": 4, "cust_react": 2, "cust_question": 2, "cust_request": 1},
    "other_pricing": {"cust_price": 1}, "other_pitchcheck": {"cust_react": 1, "cust_backchannel": 1},
    "other_vague": {"cust_backchannel": 1, "cust_react": 1, "cust_question": 1},
    "other_hedge": {"cust_backchannel": 1, "cust_react": 1}, "other_offer": {"cust_offer": 1},
    "other_logistics": {"cust_logistics": 1}, "other_agenda": {"cust_agenda": 1},
    "se_answer": {"cust_react": 2, "cust_question": 1},
}

# ---------------------------------------------------------------------------------------------
# The world: industries, people, slot values.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Industry:
    name: str
    companies: tuple[tuple[str, str], ...]  # (name, email domain)
    things: tuple[str, ...]  # processes the customer runs
    metrics: tuple[str, ...]
    tools: tuple[str, ...]
    peers: tuple[str, ...]  # reference customers named in proof


INDUSTRIES: tuple[_Industry, ...] = (
    _Industry("healthcare", (("Riverside Health Partners", "riversidehealth.org"),
                             ("Northgate Medical Group", "northgatemed.com"),
                             ("Cedar Valley Clinics", "cedarvalley.org")),
              ("patient intake", "prior authorizations", "appointment scheduling", "referral tracking"),
              ("the no-show rate", "days in accounts receivable", "time to schedule a referral"),
              ("Epic", "Athenahealth"), ("Lakeshore Family Health", "a 200-bed hospital group in Ohio")),
    _Industry("logistics", (("Bluewater Freight", "bluewaterfreight.com"), ("Ironbridge Logistics", "ironbridge.com"),
                            ("Swift Harbor Shipping", "swiftharbor.com")),
              ("carrier onboarding", "dock scheduling", "proof of delivery", "freight invoice audits"),
              ("the on-time delivery rate", "cost per load", "detention hours"),
              ("McLeod", "a homegrown TMS"), ("Keystone Carriers", "a regional 3PL with 40 trucks")),
    _Industry("fintech", (("Ledgerly", "ledgerly.io"), ("Paystream Capital", "paystreamcap.com"),
                          ("Northwind Lending", "northwindlending.com")),
              ("KYC reviews", "chargeback disputes", "loan underwriting", "merchant onboarding"),
              ("time to approve an application", "the dispute win rate", "the false positive rate"),
              ("Salesforce", "Jira"), ("Brightpath Credit Union", "a neobank with 300,000 customers")),
    _Industry("retail", (("Maple Lane Outfitters", "maplelane.com"), ("Harborview Home", "harborviewhome.com"),
                         ("UrbanCart", "urbancart.co")),
              ("store replenishment", "returns processing", "seasonal staffing", "promo planning"),
              ("the sell-through rate", "stockouts per week", "the return rate"),
              ("Shopify", "NetSuite"), ("Juniper Goods", "a 60-store apparel chain")),
    _Industry("manufacturing", (("Precision Forge Works", "precisionforge.com"),
                                ("Allied Polymer", "alliedpolymer.com"),
                                ("Granite Ridge Components", "graniteridge.com")),
              ("preventive maintenance", "quality inspections", "shift handovers", "supplier audits"),
              ("unplanned downtime", "the scrap rate", "OEE"),
              ("SAP", "a legacy MES"), ("Hartwell Machining", "a tier-one automotive supplier")),
    _Industry("education", (("Westbrook University", "westbrook.edu"), ("Lakeside School District", "lakesidesd.org"),
                            ("BrightPath Academy", "brightpathacademy.org")),
              ("student enrollment", "financial aid packaging", "course scheduling", "advising appointments"),
              ("first-year retention", "time to enroll", "summer melt"),
              ("Banner", "Canvas"), ("Eastfield Community College", "a state university system")),
    _Industry("insurance", (("Summit Mutual", "summitmutual.com"), ("Keel Insurance Group", "keelinsurance.com"),
                            ("Oakline Assurance", "oakline.com")),
              ("claims intake", "policy renewals", "certificates of insurance", "loss run requests"),
              ("claims cycle time", "renewal retention", "quote turnaround time"),
              ("Guidewire", "Applied Epic"), ("Pioneer Specialty", "a mid-size regional carrier")),
    _Industry("hospitality", (("Coastline Hotels", "coastlinehotels.com"), ("Alpine Lodge Group", "alpinelodge.com"),
                              ("Harbor Table Restaurants", "harbortable.com")),
              ("housekeeping scheduling", "group bookings", "guest complaints", "staff onboarding"),
              ("RevPAR", "the guest satisfaction score", "staff turnover"),
              ("Opera", "7shifts"), ("Seabreeze Resorts", "a 30-property boutique hotel chain")),
    _Industry("construction", (("Stonebridge Builders", "stonebridgebuilders.com"),
                               ("Vantage Civil", "vantagecivil.com"),
                               ("Redline Contracting", "redlinecontracting.com")),
              ("RFIs", "submittals", "daily site reports", "change orders"),
              ("RFI turnaround", "rework cost", "schedule slippage"),
              ("Procore", "Autodesk Build"), ("Barlow Construction", "a general contractor doing 400 million a year")),
    _Industry("energy", (("Sunreach Power", "sunreachpower.com"), ("Prairie Grid Services", "prairiegrid.com"),
                         ("Tidewater Energy", "tidewaterenergy.com")),
              ("field inspections", "outage reporting", "asset maintenance", "interconnection requests"),
              ("mean time to repair", "truck rolls per month", "permit cycle time"),
              ("Maximo", "ArcGIS"), ("Highline Utilities", "a solar developer with 120 sites")),
    _Industry("telecom", (("Skyline Fiber", "skylinefiber.net"), ("Crestwave Communications", "crestwave.com"),
                          ("Beacon Wireless", "beaconwireless.com")),
              ("customer provisioning", "truck dispatch", "number porting", "network tickets"),
              ("time to install", "repeat tickets", "churn"),
              ("ServiceNow", "Zendesk"), ("Meridian Broadband", "a rural fiber provider")),
    _Industry("legal", (("Hale Carter LLP", "halecarter.com"), ("Whitmore Legal", "whitmorelegal.com"),
                        ("Beacon Street Law", "beaconstreetlaw.com")),
              ("contract intake", "matter intake", "conflict checks", "time entry"),
              ("billable utilization", "time to first draft", "write-offs"),
              ("Clio", "iManage"), ("Granger Wolfe LLP", "a 150-lawyer firm in Chicago")),
    _Industry("real estate", (("Parkline Properties", "parklineproperties.com"),
                              ("Crescent Realty Group", "crescentrealty.com"),
                              ("Elm Street Residential", "elmstreet.com")),
              ("lease renewals", "maintenance requests", "tenant screening", "move-ins"),
              ("occupancy", "days to lease", "the work order backlog"),
              ("Yardi", "AppFolio"), ("Greystone Living", "a multifamily operator with 9,000 units")),
    _Industry("media", (("Northlight Media", "northlightmedia.com"), ("Signal House Publishing", "signalhouse.com"),
                        ("Pulse Streaming", "pulsestreaming.tv")),
              ("ad trafficking", "content licensing", "rights clearance", "campaign reporting"),
              ("subscriber churn", "the fill rate", "time to publish"),
              ("Google Ad Manager", "Airtable"), ("Brightwave Studios", "a regional newspaper group")),
    _Industry("pharma", (("Veridian Therapeutics", "veridianrx.com"), ("Helix Biologics", "helixbio.com"),
                         ("Clearwater Pharma", "clearwaterpharma.com")),
              ("clinical site activation", "adverse event reporting", "batch release", "sample tracking"),
              ("site activation time", "the deviation count", "batch release cycle time"),
              ("Veeva", "a LIMS"), ("Northstar Bio", "a mid-size CRO")),
    _Industry("public sector", (("City of Fairview", "fairview.gov"), ("Harlow County", "harlowcounty.gov"),
                                ("State Transit Authority", "statetransit.gov")),
              ("permit applications", "public records requests", "311 tickets", "grant reporting"),
              ("permit turnaround", "the backlog of open requests", "resident satisfaction"),
              ("Tyler Munis", "an old Access database"), ("City of Brookhaven", "a county of 400,000 residents")),
    _Industry("software", (("Cloudnest", "cloudnest.io"), ("Orbit Analytics", "orbitanalytics.com"),
                           ("Stackwise", "stackwise.dev")),
              ("customer onboarding", "renewals", "support escalations", "trial conversion"),
              ("net revenue retention", "time to value", "the ticket backlog"),
              ("HubSpot", "Intercom"), ("Lumen Labs", "a Series C analytics company")),
    _Industry("food and agriculture", (("Green Acre Foods", "greenacrefoods.com"),
                                       ("Heartland Growers Co-op", "heartlandgrowers.coop"),
                                       ("Sierra Produce", "sierraproduce.com")),
              ("harvest planning", "cold chain monitoring", "lot traceability", "grower payments"),
              ("the spoilage rate", "audit findings", "the order fill rate"),
              ("QuickBooks", "FoodLogiQ"), ("Valley Fresh Farms", "a co-op of 300 growers")),
)

FIRST_NAMES = ("Sam", "Maria", "James", "Aiko", "Olu", "Rachel", "David", "Fatima", "Connor", "Mei", "Jorge", "Hannah",
               "Tariq", "Grace", "Pedro", "Ingrid", "Kwame", "Laura", "Ravi", "Chloe", "Dmitri", "Nora", "Hector",
               "Yuki", "Brandon", "Amara", "José", "Zoë", "Søren", "Amélie", "Michael", "Jennifer", "Kevin", "Lisa",
               "Ahmed", "Sofia", "Patrick", "Emily", "Wei", "Valentina")
LAST_NAMES = ("Lee", "Garcia", "O'Brien", "Tanaka", "Adeyemi", "Cohen", "Miller", "Hassan", "Murphy", "Zhang",
              "Hernández", "Schmidt", "Khan", "Nguyen", "Silva", "Larsen", "Mensah", "Rossi", "Patel", "Dubois",
              "Volkov", "Kowalski", "Morales", "Sato", "Johnson", "Okafor", "Müller", "Fischer", "Brennan", "Park",
              "Lindqvist", "Santos", "Ward", "Kim", "Novak", "Romero")

SLOTS: dict[str, tuple[str, ...]] = {
    "when": ("by Friday", "tomorrow morning", "by end of day", "before Thursday", "early next week", "by Wednesday",
             "tonight", "by Monday"),
    "weeks": ("two weeks", "three weeks", "30 days", "four weeks", "six weeks", "45 days"),
    "pct": ("12%", "15%", "18%", "20%", "22%", "25%", "30%", "35%", "40%"),
    "n": ("two", "three", "four", "five", "six"),
    "role": ("your CFO", "IT", "procurement", "the VP of Operations", "legal", "your security team", "the COO"),
    "boss": ("our CFO", "my boss", "the COO", "finance", "IT", "procurement", "our VP"),
    "feature": ("the workflow builder", "the analytics dashboard", "automated routing", "the audit trail",
                "smart alerts", "the approval engine", "bulk editing", "the rules engine"),
    "product": ("Relay", "the platform", "our platform"),
    "place": ("Lisbon", "Denver", "Austin", "Tokyo", "the coast", "Chicago", "Barcelona", "the mountains", "Montreal"),
    "tool": ("Excel", "Salesforce"),
}

TITLES = ("{company} / Seller.io: discovery", "Intro call with {company}", "{company} | Demo", "{company} follow-up",
          "Pricing review: {company}", "QBR with {company}", "{company} x Seller.io", "Technical deep dive, {company}")

# ---------------------------------------------------------------------------------------------
# Selling styles and reps.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Mix:
    """A weighted choice, precomputed so drawing is one bisect."""

    keys: tuple[Any, ...]
    cum: tuple[float, ...]

    @classmethod
    def of(cls, weights: Mapping[Any, float]) -> _Mix:
        total, cum = 0.0, []
        for w in weights.values():
            total += w
            cum.append(total)
        return cls(tuple(weights), tuple(cum))

    def pick(self, rng: random.Random) -> Any:
        return self.keys[bisect.bisect_right(self.cum, rng.random() * self.cum[-1])]


@dataclass(frozen=True)
class _Style:
    """How a rep sells: what their turns do, how long they run and how fast they answer."""

    body: _Mix  # rep-turn kinds in the body of the call
    extra: _Mix  # how many sentences to add in front of an expandable turn (EXPAND)
    answer_proof: float  # chance an answer to a customer question also cites proof
    keeps_promises: float  # chance a customer's request gets a commitment rather than a hedge
    rate: float  # words per second
    pause: tuple[float, float]  # seconds of silence before answering the customer
    warm: float  # chance the greeting and the farewell are warm (rapport) rather than ritual
    small_talk: int  # most rounds of small talk after the greeting
    close_commit: float  # chance the call ends on the rep's own commitments


def _style(body: dict[str, float], extra: tuple[float, ...], answer_proof: float, keeps_promises: float,
           rate: float, pause: tuple[float, float], warm: float, small_talk: int, close_commit: float) -> _Style:
    return _Style(_Mix.of(body), _Mix.of(dict(enumerate(extra))), answer_proof, keeps_promises, rate, pause, warm,
                  small_talk, close_commit)


STYLES: dict[str, _Style] = {
    # discovery, summaries back, concrete commitments and proof; listens
    "trusted_advisor": _style(
        {"probe_open": 9, "probe_closed": 3, "probe_elaborate": 4, "probe_summary": 5, "probe_impact": 4,
         "probe_decision": 3, "probe_social": 1, "trust_commit": 5, "trust_outcome": 3, "trust_guarantee": 1,
         "trust_proof": 3, "trust_followup": 2, "rapport_empathy": 3, "rapport_compliment": 1, "rapport_humor": 1,
         "other_backchannel": 20, "other_product": 3, "other_logistics": 1, "other_pricing": 1, "other_offer": 1},
        (9, 3, 1), 0.25, 0.95, 2.6, (0.8, 1.5), 0.7, 1, 0.9),
    # probes deeply, rarely commits
    "knows_customer": _style(
        {"probe_open": 10, "probe_closed": 5, "probe_elaborate": 5, "probe_summary": 5, "probe_impact": 4,
         "probe_decision": 5, "probe_social": 2, "trust_commit": 1, "trust_proof": 1, "rapport_empathy": 2,
         "rapport_smalltalk": 1, "other_backchannel": 16, "other_product": 5, "other_hedge": 4, "other_offer": 4,
         "other_logistics": 2, "other_pricing": 1},
        (5, 3, 2, 1), 0.05, 0.3, 2.5, (0.7, 1.4), 0.4, 1, 0.1),
    # small talk, compliments, empathy; few probes
    "relationship_only": _style(
        {"probe_open": 2, "probe_closed": 2, "probe_social": 3, "rapport_smalltalk": 12, "rapport_compliment": 7,
         "rapport_humor": 7, "rapport_empathy": 7, "trust_commit": 2, "other_backchannel": 8, "other_product": 7,
         "other_vague": 7, "other_hedge": 5, "other_offer": 4, "other_logistics": 2, "other_pitchcheck": 2},
        (4, 3, 2, 1), 0.05, 0.4, 2.6, (0.5, 1.1), 1.0, 3, 0.15),
    # feature monologues, pitch checks, vague claims; talks most of the time
    "pitcher": _style(
        {"other_product": 30, "other_pitchcheck": 14, "other_vague": 12, "other_pricing": 5, "other_logistics": 2,
         "other_backchannel": 2, "probe_closed": 4, "probe_open": 2, "rapport_compliment": 3, "rapport_humor": 3,
         "rapport_smalltalk": 2, "trust_outcome": 3, "trust_proof": 2, "trust_commit": 1},
        (4, 3, 3, 3, 2, 2, 1, 1), 0.1, 0.5, 3.0, (0.2, 0.5), 0.5, 1, 0.3),
    # commitments and proof, moderate probing
    "closer": _style(
        {"trust_commit": 9, "trust_outcome": 6, "trust_guarantee": 4, "trust_proof": 7, "trust_followup": 3,
         "probe_open": 5, "probe_closed": 5, "probe_decision": 5, "probe_impact": 2, "probe_summary": 2,
         "rapport_smalltalk": 2, "rapport_compliment": 2, "other_backchannel": 8, "other_product": 8,
         "other_pricing": 6, "other_offer": 3, "other_logistics": 2},
        (3, 3, 2, 1), 0.5, 0.95, 2.6, (0.4, 1.0), 0.5, 1, 1.0),
    "balanced": _style(
        {"probe_open": 5, "probe_closed": 4, "probe_elaborate": 2, "probe_summary": 2, "probe_impact": 2,
         "probe_decision": 3, "probe_social": 1, "trust_commit": 4, "trust_outcome": 2, "trust_proof": 3,
         "trust_followup": 1, "rapport_smalltalk": 3, "rapport_compliment": 2, "rapport_humor": 2,
         "rapport_empathy": 3, "other_backchannel": 14, "other_product": 8, "other_pricing": 3, "other_offer": 3,
         "other_logistics": 2, "other_pitchcheck": 2, "other_hedge": 2},
        (5, 3, 1), 0.25, 0.75, 2.5, (0.5, 1.2), 0.6, 1, 0.6),
}


_REPLY_MIX = {kind: _Mix.of(weights) for kind, weights in REPLY.items()}
_REPLY_DEFAULT = _Mix.of({"cust_backchannel": 1, "cust_react": 1})
# Rep turns that only make sense right after the customer said something substantial.
_AFTER_STORY = frozenset({"rapport_empathy", "probe_elaborate", "probe_summary", "other_backchannel"})


@dataclass(frozen=True)
class SampleRep:
    """A sales rep of the sample company; ``gong_user_id`` is how Gong knows them (not the rep id)."""

    rep_id: str
    name: str
    email: str
    team: str
    manager: str
    style: str
    gong_user_id: str


REPS: tuple[SampleRep, ...] = (
    SampleRep("rep_01", "Dana Whitfield", "dana@seller.io", "Enterprise", "Morgan Reyes", "trusted_advisor",
              "2451384623958217463"),
    SampleRep("rep_02", "Luis Ortega", "luis@seller.io", "Enterprise", "Morgan Reyes", "pitcher",
              "8734120987346512890"),
    SampleRep("rep_03", "Priya Raman", "priya@seller.io", "Mid-Market", "Alex Chen", "knows_customer",
              "3398127465019283746"),
    SampleRep("rep_04", "Tom Becker", "tom@seller.io", "Mid-Market", "Alex Chen", "relationship_only",
              "5562019384756102938"),
    SampleRep("rep_05", "Aisha Bello", "aisha@seller.io", "Commercial", "Jordan Blake", "closer",
              "1209384756473829105"),
    SampleRep("rep_06", "Kenji Watanabe", "kenji@seller.io", "Commercial", "Jordan Blake", "balanced",
              "6650193847561029384"),
    SampleRep("rep_07", "Marcus Hale", "marcus@seller.io", "Commercial", "Jordan Blake", "pitcher",
              "7781029384756473821"),
    SampleRep("rep_08", "Grace Kim", "grace@seller.io", "Mid-Market", "Alex Chen", "closer",
              "4412983746501928374"),
)

_REP_NAMES = frozenset(r.name for r in REPS)

# Sales engineers who sometimes join a call: (name, email, Gong user id).
COLLEAGUES = (("Nadia Haddad", "nadia@seller.io", "9023847561029384756"),
              ("Ben Okafor", "ben@seller.io", "2987456102938475610"))

FORMAT_SHARES = {"canonical": 0.5, "vtt": 0.25, "gong": 0.25}
ASR_SHARE = 0.30  # calls that read like raw speech recognition
SE_SHARE = 0.15  # calls a sales engineer joins
NAMESAKE_SHARE = 0.04  # calls (not VTT) with a customer who has the rep's name
TURNS = (20, 90)
BAD_KINDS = ("invalid-json", "truncated", "no-sidecar", "unknown-format", "empty-transcript", "gong-bad-timestamps")


@dataclass(frozen=True)
class SampleSummary:
    """What ``write_sample`` wrote: per day (ISO date) the file counts by format, calls and bad files.

    ``calls`` counts the clean calls; ``calls_in_bad_files`` counts the readable calls that sit
    beside the broken one in a bad Gong file, so a reader can balance its own counts.
    """

    out_url: str
    seed: int
    days: dict[str, dict[str, int]] = field(default_factory=dict)
    calls: int = 0
    files: int = 0
    bad_files: int = 0


# ---------------------------------------------------------------------------------------------
# Text.
# ---------------------------------------------------------------------------------------------

_SLOT = re.compile(r"\{(\w+)\}")
_PUNCT = re.compile(r"[.,!?;:\"]+(?=\s|$)")
_FILLERS = ("um", "uh", "you know", "like", "um", "uh", "i mean", "so")


def asr_noise(text: str, rng: random.Random) -> str:
    """Make clean text look like speech recognition output.

    Real transcripts are lower case, lose their punctuation, carry fillers and false starts;
    the classifier and the question detector must cope with both kinds of text.
    """
    words = _PUNCT.sub("", text.replace("%", " percent")).lower().split()
    if not words:
        return ""
    out = words[: rng.randint(1, 2)] if len(words) > 3 and rng.random() < 0.15 else []  # false start
    for word in words:
        if rng.random() < 0.07:
            out.append(rng.choice(_FILLERS))
        out.append(word)
    return " ".join(out)


class _Talk:
    """Phrases for one call: slots filled from the call's context, banks drawn without repeats."""

    def __init__(self, rng: random.Random, ctx: Mapping[str, Sequence[str]]):
        self.rng = rng
        self.ctx = ctx
        self.left: dict[str, list] = {}

    def draw(self, bank: str, items: Sequence | None = None) -> Any:
        left = self.left.get(bank)
        if not left:
            left = list(BANKS[bank] if items is None else items)
            self.rng.shuffle(left)
            self.left[bank] = left
        return left.pop()

    def fill(self, template: str) -> str:
        if "{" in template:
            template = _SLOT.sub(lambda m: self.rng.choice(self.ctx[m.group(1)]), template)
        return template[:1].upper() + template[1:]

    def say(self, bank: str) -> str:
        return self.fill(self.draw(bank))


def _rep_turn(talk: _Talk, style: _Style, kind: str) -> str:
    main = talk.say(kind)
    pools = EXPAND.get(kind)
    if not pools:
        return main
    extras = [talk.say(talk.rng.choice(pools)) for _ in range(style.extra.pick(talk.rng))]
    return " ".join([*extras, main])


def _customer_turn(talk: _Talk, kind: str) -> str:
    rng = talk.rng
    if kind == "cust_story":
        parts = [talk.say("cust_answer") for _ in range(rng.choice((2, 3, 3, 4, 4, 5, 6)))]
        if rng.random() < 0.5:
            parts.append(talk.say("cust_continue"))
    elif kind == "cust_answer":
        parts = [talk.say("cust_answer") for _ in range(rng.choice((1, 1, 2)))]
    elif kind == "cust_smalltalk":
        parts = [talk.say(kind), *(talk.say("cust_personal") for _ in range(rng.choice((0, 1, 1, 2))))]
    elif kind == "cust_continue":
        parts = [talk.say(rng.choice(("cust_continue", "cust_answer"))) for _ in range(rng.choice((1, 2, 2, 3)))]
    else:
        parts = [talk.say(kind)]
    if kind in ("cust_story", "cust_answer") and rng.random() < 0.25:
        parts.insert(0, talk.say("cust_lead"))
    return " ".join(parts)


def _dialogue(talk: _Talk, style: _Style, n_turns: int, has_se: bool) -> list[tuple[str, str, str]]:
    """The call as (who, kind, text) turns, who being "rep", "se" or "cust" and kind the bank it came from.

    The seller side and the customers alternate, so nobody has two turns in a row (a VTT
    reader would merge them). Each rep turn's kind decides the customer's reaction, and a
    customer question or request decides the seller's next turn.
    """
    rng = talk.rng
    turns: list[tuple[str, str, str]] = []
    last, answer = "", ""  # the customer's last turn kind; the answer owed to their question

    def exchange(kind: str, text: str | None = None, who: str = "rep", reply: str | None = None) -> None:
        nonlocal last, answer
        turns.append((who, kind, text if text is not None else _rep_turn(talk, style, kind)))
        last, answer = reply or _REPLY_MIX.get(kind, _REPLY_DEFAULT).pick(rng), ""
        if last == "cust_question":
            question, answer = (talk.fill(t) for t in talk.draw("qa", QA))
            turns.append(("cust", last, question))
        else:
            turns.append(("cust", last, _customer_turn(talk, last)))

    def respond(reply: str | None = None) -> None:
        if last == "cust_request":  # a short answer: "Will do." or a hedge
            kind = rng.choice(("trust_willdo", "trust_commit")) if rng.random() < style.keeps_promises \
                else "other_hedge"
            exchange(kind, talk.say(kind), reply=reply)
        elif answer and has_se and rng.random() < 0.6:
            exchange("se_answer", f"{answer} {talk.say('se_answer')}" if rng.random() < 0.4 else answer, who="se",
                     reply=reply)
        elif answer and rng.random() < style.answer_proof:
            exchange("trust_proof", f"{answer} {talk.say('trust_proof')}", reply=reply)
        elif answer:
            more = [talk.say("other_product") for _ in range(style.extra.pick(rng) // 2)]
            exchange("other_answer", " ".join([answer, *more]), reply=reply)
        else:
            kind = style.body.pick(rng)
            while kind in _AFTER_STORY and last not in ("cust_story", "cust_answer", "cust_continue"):
                kind = style.body.pick(rng)
            exchange(kind)

    exchange("rapport_greet" if rng.random() < style.warm else "other_greet")
    for _ in range(rng.randint(0, style.small_talk)):
        exchange("rapport_smalltalk")
    exchange("other_agenda")
    for _ in range((n_turns - len(turns) - 4) // 2):
        respond()
    if last == "cust_request" or answer:  # settle it before saying goodbye
        respond(reply="cust_react")
    if rng.random() < style.close_commit:
        exchange(rng.choice(("trust_recap", "trust_commit")), reply="cust_close")
    else:
        exchange("other_offer", reply="cust_offer")
    exchange("rapport_farewell" if rng.random() < style.warm else "other_farewell", reply="cust_bye")
    return turns


# ---------------------------------------------------------------------------------------------
# Calls.
# ---------------------------------------------------------------------------------------------


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


def _person(rng: random.Random, domain: str, name: str | None = None) -> dict[str, str]:
    """A customer at ``domain``, named ``name`` or at random (never a rep's name by accident: only
    the deliberate namesakes, whose utterances carry emails, may share it)."""
    while name is None:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        name = None if name in _REP_NAMES else name
    first, last = (_ascii(p) for p in name.split(" ", 1))
    local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", first, f"{first}{last[0]}"))
    return {"name": name, "email": f"{local}@{domain}", "role": "customer"}


def _make_call(rng: random.Random, call_id: str, day: date, fmt: str) -> dict:
    """One canonical call. ``fmt`` only matters for namesakes: a VTT names speakers by display name
    alone, so a customer who shares the rep's name would make that file unreadable."""
    rep = rng.choice(REPS)
    style = STYLES[rep.style]
    industry = rng.choice(INDUSTRIES)
    company, domain = rng.choice(industry.companies)
    namesake = fmt != "vtt" and rng.random() < NAMESAKE_SHARE
    customers = [_person(rng, domain, rep.name if namesake and not i else None)
                 for i in range(rng.choice((1, 1, 1, 2, 2, 3)))]
    colleague = rng.choice(COLLEAGUES) if rng.random() < SE_SHARE else None
    ctx = {**SLOTS, "cust": (customers[0]["name"].split()[0],), "me": (rep.name.split()[0],), "company": (company,),
           "industry": (industry.name,), "thing": industry.things, "metric": industry.metrics,
           "tool": (*industry.tools, *SLOTS["tool"]), "peer": industry.peers,
           "se": ((colleague or rng.choice(COLLEAGUES))[0].split()[0],)}
    talk = _Talk(rng, ctx)
    turns = _dialogue(talk, style, rng.randint(TURNS[0], TURNS[1] - 2), colleague is not None)  # 2: settling
    asr = rng.random() < ASR_SHARE
    speaking = customers[: max(1, len(customers) - (rng.random() < 0.3))]  # sometimes one customer stays silent
    se = {"name": colleague[0], "email": colleague[1], "role": "internal"} if colleague else None
    people = {"rep": {"name": rep.name, "email": rep.email, "role": "rep"}, "se": se}
    rates = {p["email"]: rng.uniform(2.2, 2.8) for p in customers}
    utterances = []
    t = rng.uniform(0.0, 2.5)
    for i, (who, _, text) in enumerate(turns):
        person = people[who] if who != "cust" else (speaking[0] if rng.random() < 0.7 else rng.choice(speaking))
        if asr:
            text = asr_noise(text, rng)
        words = len(text.split())
        rate = style.rate if who == "rep" else rates.get(person["email"], 2.5)
        if i:
            t += rng.uniform(*style.pause) if who == "rep" else rng.uniform(0.3, 1.2)
        start = round(t, 3)
        t = round(start + max(0.4, words / rate * rng.uniform(0.9, 1.1) + 0.2), 3)
        utterance = {"speaker": person["name"], "start": start, "end": t, "text": text}
        if namesake:
            utterance["speaker_email"] = person["email"]
        utterances.append(utterance)
    started = datetime(day.year, day.month, day.day, rng.randint(13, 22), rng.choice((0, 0, 0, 15, 30, 30, 45)),
                       tzinfo=UTC) + timedelta(seconds=rng.randint(0, 150))
    participants = [people["rep"], *customers, *([se] if se else [])]
    return {"call_id": call_id, "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(t + rng.uniform(3.0, 25.0), 1), "title": talk.fill(rng.choice(TITLES)),
            "rep": {"id": rep.rep_id, "name": rep.name, "email": rep.email, "team": rep.team},
            "participants": [dict(p) for p in participants], "utterances": utterances}


def _day_seed(seed: int, day: date, purpose: str = "calls") -> int:
    return zlib.crc32(f"{seed}:{day.isoformat()}:{purpose}".encode())


def _plan_day(day: date, n: int, seed: int) -> list[tuple[str, dict]]:
    """The day's calls, each with the format it will be written in (decided first: ids depend on it)."""
    if n < 0:
        raise ValueError(f"the number of calls must be >= 0, got {n}")
    rng = random.Random(_day_seed(seed, day))
    n_vtt, n_gong = round(n * FORMAT_SHARES["vtt"]), round(n * FORMAT_SHARES["gong"])
    formats = ["vtt"] * n_vtt + ["gong"] * n_gong + ["canonical"] * (n - n_vtt - n_gong)
    rng.shuffle(formats)
    plan = []
    for i, fmt in enumerate(formats, start=1):
        call_id = (_gong_id(rng, day, i, "7") if fmt == "gong"
                   else f"c-{day:%Y%m%d}-{i:05d}-{rng.getrandbits(24):06x}")
        plan.append((fmt, _make_call(rng, call_id, day, fmt)))
    return plan


def _gong_id(rng: random.Random, day: date, i: int, lead: str) -> str:
    """Gong's 19-digit call id; the date and index keep it unique across days."""
    return f"{lead}{day:%y%m%d}{i:05d}{rng.randrange(10**7):07d}"


def generate_calls(day: date, n: int, seed: int) -> list[dict]:
    """The ``n`` clean calls of ``day`` as canonical dicts: exactly what ``write_sample`` renders.

    Canonical dict: ``call_id``, ``started_at`` (ISO, UTC), ``duration_s``, ``title``,
    ``rep`` (id, name, email, team), ``participants`` (name, email, role) and ``utterances``
    (speaker, start, end in seconds, text; plus ``speaker_email`` when a customer shares the
    rep's name). Calls rendered as Gong exports carry Gong's numeric ids.
    """
    return [call for _, call in _plan_day(day, n, seed)]


def sample_rep_turns(n: int, seed: int = 7) -> list[str]:
    """``n`` rep-turn texts with the length and style mix of real calls, for benchmarks.

    Drawn from whole generated calls of every rep (then shuffled), so backchannels, questions
    and long monologues appear in the proportions the pipeline will see.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(zlib.crc32(f"{seed}:rep-turns".encode()))
    texts: list[str] = []
    while len(texts) < n:
        call = _make_call(rng, "c-bench", date(2026, 1, 5), "canonical")
        rep = call["rep"]
        texts.extend(u["text"] for u in call["utterances"]
                     if u["speaker"] == rep["name"] and u.get("speaker_email", rep["email"]) == rep["email"])
    rng.shuffle(texts)
    return texts[:n]


# ---------------------------------------------------------------------------------------------
# Rendering.
# ---------------------------------------------------------------------------------------------


def _json_bytes(doc: Any, indent: int | None = 2) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=indent) + "\n").encode()


def _sidecar(call: Mapping) -> dict:
    return {k: v for k, v in call.items() if k != "utterances"}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _ts(ms: int) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _timed(chunks: Sequence[str], start: int, end: int) -> list[tuple[str, int, int]]:
    """Share a turn's time (ms) among its pieces (cues, sentences) in proportion to their words."""
    total = sum(len(c.split()) for c in chunks) or 1
    out, done = [], 0
    for chunk in chunks:
        a = start + (end - start) * done // total
        done += len(chunk.split())
        out.append((chunk, a, start + (end - start) * done // total))
    return out


_VTT_NOTES = {
    "zoom": ("NOTE\nZoom cloud recording transcript. Speaker names come from the meeting roster.",),
    "teams": ("NOTE\nTranscribed by Microsoft Teams. Speaker attribution may be inaccurate.",),
    "meet": ("NOTE Transcript generated by Google Meet",),
}
_MID_NOTES = ("NOTE recording paused", "NOTE low confidence segment", "NOTE\nspeaker audio dropped briefly")


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _vtt(call: Mapping, rng: random.Random, dialect: str) -> bytes:
    """Render a call as the WebVTT that Zoom, Teams or Meet exports; long turns span several cues."""
    size = rng.randint(*{"zoom": (10, 18), "teams": (14, 26), "meet": (18, 32)}[dialect])
    blocks = ["WEBVTT"]
    if rng.random() < 0.6:
        blocks.append(rng.choice(_VTT_NOTES[dialect]))
    cue = 0
    for turn, u in enumerate(call["utterances"]):
        if turn and rng.random() < 0.02:
            blocks.append(rng.choice(_MID_NOTES))
        guid = _guid(rng) if dialect == "teams" else ""
        words = u["text"].split()
        chunks = [" ".join(words[i:i + size]) for i in range(0, len(words), size)]
        for j, (text, a, b) in enumerate(_timed(chunks, _ms(u["start"]), _ms(u["end"]))):
            cue += 1
            cut = text.split(" ")
            if len(cut) > 8 and rng.random() < 0.3:  # a cue text wrapped over two lines
                text = " ".join(cut[: len(cut) // 2]) + "\n" + " ".join(cut[len(cut) // 2:])
            body = {"zoom": f"{u['speaker']}: {text}", "teams": f"<v {u['speaker']}>{text}</v>",
                    "meet": f"<v {u['speaker']}>{text}"}[dialect]
            ident = {"zoom": f"{cue}\n", "teams": f"{guid}/{turn + 1}-{j}\n", "meet": ""}[dialect]
            blocks.append(f"{ident}{_ts(a)} --> {_ts(b)}\n{body}")
    text = "\n\n".join(blocks) + "\n"
    if dialect == "teams":
        if rng.random() < 0.5:
            text = text.replace("\n", "\r\n")
        if rng.random() < 0.5:
            text = "\ufeff" + text
    return text.encode()


_SENTENCE = re.compile(r"(?<=[.?!])\s+")


def _sentences(text: str, rng: random.Random) -> list[str]:
    """Split a monologue into 1-4 sentences as Gong does (by word runs when there is no punctuation)."""
    parts = _SENTENCE.split(text)
    if len(parts) == 1:
        words = text.split()
        size = rng.randint(8, 20)
        parts = [" ".join(words[i:i + size]) for i in range(0, len(words), size)] or [text]
    step = -(-len(parts) // 4)
    return [" ".join(parts[i:i + step]) for i in range(0, len(parts), step)]


def _topic(i: int, n: int, text: str) -> str:
    if i < 3:
        return "Call Setup"
    if i >= n - 4:
        return "Next Steps"
    if "pric" in text.lower() or "budget" in text.lower():
        return "Pricing"
    return ("Discovery", "Pain Points", "Product", "Integration", "Implementation")[min(4, 5 * i // n)]


def _gong_call(call: Mapping, rng: random.Random) -> tuple[dict, dict]:
    """One call as Gong's ``calls`` entry and ``callTranscripts`` entry; times in milliseconds."""
    gong_users = {r.email: r.gong_user_id for r in REPS} | {email: uid for _, email, uid in COLLEAGUES}
    parties, speaker_ids = [], {}
    for p in call["participants"]:
        sid = str(rng.randrange(10**18, 10**19))
        speaker_ids[p["email"]] = sid
        speaker_ids.setdefault(p["name"], sid)
        party = {"id": str(rng.randrange(10**18, 10**19)), "emailAddress": p["email"], "name": p["name"],
                 "speakerId": sid, "affiliation": "External" if p["role"] == "customer" else "Internal",
                 "methods": ["Invitee"]}
        if p["role"] != "customer":
            party["userId"] = gong_users[p["email"]]
        parties.append(party)
    meta = {"id": call["call_id"], "url": f"https://app.gong.io/call?id={call['call_id']}", "title": call["title"],
            "scheduled": call["started_at"][:14] + "00:00Z", "started": call["started_at"],
            "duration": round(call["duration_s"]), "primaryUserId": gong_users[call["rep"]["email"]],
            "direction": "Conference", "system": rng.choice(("Zoom", "Google Meet", "Microsoft Teams")),
            "scope": "External", "media": "Video", "language": "eng"}
    monologues = []
    n = len(call["utterances"])
    for i, u in enumerate(call["utterances"]):
        sid = speaker_ids[u.get("speaker_email") or u["speaker"]]
        sentences = [{"start": a, "end": b, "text": text}
                     for text, a, b in _timed(_sentences(u["text"], rng), _ms(u["start"]), _ms(u["end"]))]
        monologues.append({"speakerId": sid, "topic": _topic(i, n, u["text"]), "sentences": sentences})
    return ({"metaData": meta, "parties": parties},
            {"callId": call["call_id"], "transcript": monologues})


def _gong_export(calls: Sequence[Mapping], rng: random.Random) -> dict:
    entries = [_gong_call(c, rng) for c in calls]
    request_id = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))
    return {"requestId": request_id,
            "records": {"totalRecords": len(calls), "currentPageSize": len(calls), "currentPageNumber": 0},
            "calls": [meta for meta, _ in entries], "callTranscripts": [t for _, t in entries]}


# ---------------------------------------------------------------------------------------------
# Writing.
# ---------------------------------------------------------------------------------------------


class _Writer:
    """Writes files below one day folder through fsspec and counts them by kind."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str):
        self.fs, self.root = fs, root
        self.dirs: set[str] = set()
        self.counts = {"canonical": 0, "vtt": 0, "sidecar": 0, "gong": 0, "bad": 0}

    def put(self, rel: str, data: bytes, kind: str) -> None:
        path = posixpath.join(self.root, rel)
        folder = posixpath.dirname(path)
        if folder not in self.dirs:
            self.fs.makedirs(folder, exist_ok=True)
            self.dirs.add(folder)
        with self.fs.open(path, "wb") as fh:
            fh.write(data)
        self.counts[kind] += 1


def _rep_folder(call: Mapping) -> str:
    return call["rep"]["email"].split("@")[0]


def _write_vtt(w: _Writer, call: Mapping, rng: random.Random, stem: str | None = None, sidecar: bool = True,
               kind: str = "vtt") -> None:
    dialect = rng.choices(("zoom", "teams", "meet"), (5, 3, 2))[0]
    rel = f"{dialect}/{_rep_folder(call)}/{stem or call['call_id']}"
    w.put(f"{rel}.vtt", _vtt(call, rng, dialect), kind)
    if sidecar:
        w.put(f"{rel}.meta.json", _json_bytes(_sidecar(call)), "sidecar")


def _docx(text: str) -> bytes:
    """A minimal Word document: the kind of file that lands by mistake."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in (("[Content_Types].xml", '<?xml version="1.0"?><Types/>'),
                           ("word/document.xml", f'<?xml version="1.0"?><w:document><w:t>{text}</w:t></w:document>')):
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), body)
    return buf.getvalue()


def _write_bad(w: _Writer, day: date, seed: int, count: int, first_kind: int) -> int:
    """Write ``count`` deliberately malformed files, cycling through BAD_KINDS from ``first_kind``.

    Returns how many readable calls they hold (the good neighbours in a bad Gong export).
    """
    rng = random.Random(_day_seed(seed, day, "bad"))
    seen: dict[str, int] = {}
    readable = 0
    for k in range(count):
        cycle, index = divmod(first_kind + k, len(BAD_KINDS))
        kind = BAD_KINDS[index]
        seen[kind] = seen.get(kind, 0) + 1
        stem = f"bad-{kind}-{seen[kind]:02d}"
        call = _make_call(rng, f"c-{day:%Y%m%d}-{stem}", day, "canonical")
        if kind == "invalid-json":  # commas lost in a hand edit: the error is mid-file, not at its end
            w.put(f"crm/{stem}.json", _json_bytes(call).replace(b'",\n', b'"\n', 3), "bad")
        elif kind == "truncated":
            data = _json_bytes(call)
            w.put(f"crm/{stem}.json", data[: len(data) * rng.randint(30, 70) // 100], "bad")
        elif kind == "no-sidecar":
            _write_vtt(w, call, rng, stem, sidecar=False, kind="bad")
        elif kind == "unknown-format":
            notes = f"Meeting notes, {call['title']}\n- pain: manual work\n- next: send pricing\n"
            if cycle % 2:
                w.put(f"crm/{stem}.docx", _docx(notes), "bad")
            else:
                w.put(f"crm/{stem}.txt", notes.encode(), "bad")
        elif kind == "empty-transcript":
            w.put(f"crm/{stem}.json", _json_bytes({**call, "utterances": []}), "bad")
        else:  # one call of three has a monologue whose sentence starts go backwards
            calls = [_make_call(rng, _gong_id(rng, day, 90000 + 3 * k + j, "8"), day, "gong") for j in range(3)]
            doc = _gong_export(calls, rng)
            monologues = doc["callTranscripts"][1]["transcript"]
            mono = max(monologues, key=lambda m: len(m["sentences"]))
            if len(mono["sentences"]) < 2:
                mono["sentences"].append(dict(mono["sentences"][0], text="and then"))
            first, second = mono["sentences"][0], mono["sentences"][1]
            first["start"], second["start"] = second["start"] + 1, first["start"]
            w.put(f"gong/{stem}.json", _json_bytes(doc, indent=None), "bad")
            readable += 2
    return readable


def write_sample(out_url: str, dates: Sequence[date], calls_per_day: int, seed: int = 7,
                 bad_files_per_day: int = 0) -> SampleSummary:
    """Write synthetic calls into a landing zone, one ``<out>/YYYY-MM-DD/`` folder per day.

    Canonical JSON goes to ``crm/``, WebVTT plus sidecar to ``zoom|teams|meet/<rep>/`` and Gong
    exports to ``gong/export-NNN.json``. Bad files (``bad-<kind>-NN``) are added only when
    ``bad_files_per_day`` > 0, so a clean sample never trips quarantine by accident; their kinds
    continue the cycle from one day to the next, so a short demo still shows several kinds.

    Raises:
        ValueError: no dates, repeated dates (call ids would repeat) or negative counts.
    """
    if not dates:
        raise ValueError("dates is empty: give at least one day")
    if len(set(dates)) != len(dates):
        raise ValueError("dates repeat: each day is written once")
    if calls_per_day < 0 or bad_files_per_day < 0:
        raise ValueError(f"counts must be >= 0: calls_per_day={calls_per_day}, bad_files_per_day={bad_files_per_day}")
    fs, root = fsspec.core.url_to_fs(out_url)
    days: dict[str, dict[str, int]] = {}
    for d_index, day in enumerate(dates):
        w = _Writer(fs, posixpath.join(root.rstrip("/"), day.isoformat()))
        rng = random.Random(_day_seed(seed, day, "render"))
        gong: list[dict] = []
        for fmt, call in _plan_day(day, calls_per_day, seed):
            if fmt == "canonical":
                w.put(f"crm/{call['call_id']}.json", _json_bytes(call), "canonical")
            elif fmt == "vtt":
                _write_vtt(w, call, rng)
            else:
                gong.append(call)
        start = 0
        while start < len(gong):
            size = rng.randint(5, 15)
            export = _gong_export(gong[start:start + size], rng)
            w.put(f"gong/export-{w.counts['gong'] + 1:03d}.json", _json_bytes(export, indent=None), "gong")
            start += size
        readable = _write_bad(w, day, seed, bad_files_per_day, d_index * bad_files_per_day)
        days[day.isoformat()] = {**w.counts, "calls": calls_per_day, "calls_in_bad_files": readable,
                                 "files": sum(w.counts.values())}
        log.info("sample day %s: %d calls in %d files (%d bad)", day, calls_per_day, days[day.isoformat()]["files"],
                 w.counts["bad"])
    return SampleSummary(out_url=out_url, seed=seed, days=days, calls=sum(d["calls"] for d in days.values()),
                         files=sum(d["files"] for d in days.values()),
                         bad_files=sum(d["bad"] for d in days.values()))


def write_roster(url: str) -> None:
    """Write the sample reps' roster (``rep_id,name,email,team,manager``), which attributes Gong calls
    (matched by email) and adds managers to the scorecards."""
    fs, path = fsspec.core.url_to_fs(url)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("rep_id", "name", "email", "team", "manager"))
    writer.writerows((r.rep_id, r.name, r.email, r.team, r.manager) for r in REPS)
    parent = posixpath.dirname(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "wb") as fh:
        fh.write(buf.getvalue().encode())
