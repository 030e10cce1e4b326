"""The survey page's own words (headings, buttons, messages) in the survey's
four languages. The questions and their options are not here: they come from
the catalogue (``survey_question`` and option labels)."""

from __future__ import annotations

LANGUAGE_NAMES = {"sv": "Svenska", "en": "English", "ar": "العربية", "so": "Soomaali"}
"""Each language in its own name, for the language choice."""
DIRECTION = {"sv": "ltr", "en": "ltr", "ar": "rtl", "so": "ltr"}

TEXTS: dict[str, dict[str, str]] = {
    "title": {
        "sv": "Enkät om stödet du har fått",
        "en": "Survey about the support you have received",
        "ar": "استبيان حول الدعم الذي تلقيته",
        "so": "Sahan ra'yi oo ku saabsan taageerada aad heshay",
    },
    "choose_language": {
        "sv": "Välj språk",
        "en": "Choose language",
        "ar": "اختر اللغة",
        "so": "Dooro luqadda",
    },
    "intro": {
        "sv": "Dina svar hjälper oss att förbättra stödet. Du väljer själv vilka frågor du "
        "vill svara på. Svaren används för uppföljning och statistik.",
        "en": "Your answers help us improve our support. You choose which questions you "
        "want to answer. The answers are used for follow-up and statistics.",
        "ar": "تساعدنا إجاباتك على تحسين الدعم الذي نقدمه. أنت تختار الأسئلة التي تريد "
        "الإجابة عنها. تُستخدم الإجابات للمتابعة والإحصاءات.",
        "so": "Jawaabahaagu waxay naga caawinayaan inaan hagaajinno taageerada. Adigaa "
        "dooranaya su'aalaha aad rabto inaad ka jawaabto. Jawaabaha waxaa loo isticmaalaa "
        "dabagal iyo tirakoob.",
    },
    "error": {"sv": "Fel:", "en": "Error:", "ar": "خطأ:", "so": "Khalad:"},
    "optional": {"sv": "frivillig", "en": "optional", "ar": "اختياري", "so": "ikhtiyaari"},
    "submit": {
        "sv": "Skicka svaren",
        "en": "Send the answers",
        "ar": "إرسال الإجابات",
        "so": "Dir jawaabaha",
    },
    "change_language": {
        "sv": "Byt språk",
        "en": "Change language",
        "ar": "تغيير اللغة",
        "so": "Beddel luqadda",
    },
    "errors_title": {
        "sv": "Något behöver rättas",
        "en": "Something needs to be corrected",
        "ar": "هناك شيء يحتاج إلى تصحيح",
        "so": "Wax baa u baahan in la saxo",
    },
    "at_least_one": {
        "sv": "Svara på minst en fråga innan du skickar.",
        "en": "Answer at least one question before you send.",
        "ar": "أجب عن سؤال واحد على الأقل قبل الإرسال.",
        "so": "Ka jawaab ugu yaraan hal su'aal ka hor intaadan dirin.",
    },
    "invalid": {
        "sv": "Välj ett av alternativen.",
        "en": "Choose one of the options.",
        "ar": "اختر أحد الخيارات.",
        "so": "Dooro mid ka mid ah doorashooyinka.",
    },
    "too_long": {
        "sv": "Texten är för lång.",
        "en": "The text is too long.",
        "ar": "النص طويل جدًا.",
        "so": "Qoraalku aad buu u dheer yahay.",
    },
    "thanks_title": {
        "sv": "Tack för dina svar!",
        "en": "Thank you for your answers!",
        "ar": "شكرًا على إجاباتك!",
        "so": "Waad ku mahadsan tahay jawaabahaaga!",
    },
    "thanks_text": {
        "sv": "Svaren är sparade. Du kan stänga sidan eller lämna tillbaka enheten.",
        "en": "Your answers have been saved. You can close this page or hand the device back.",
        "ar": "تم حفظ إجاباتك. يمكنك إغلاق هذه الصفحة أو إعادة الجهاز.",
        "so": "Jawaabahaaga waa la keydiyay. Waad xiri kartaa boggan ama celin kartaa qalabka.",
    },
    "used": {
        "sv": "Länken är redan använd",
        "en": "This link has already been used",
        "ar": "تم استخدام هذا الرابط بالفعل",
        "so": "Linkigan horay ayaa loo isticmaalay",
    },
    "expired": {
        "sv": "Länken har gått ut",
        "en": "This link has expired",
        "ar": "انتهت صلاحية هذا الرابط",
        "so": "Waqtiga linkigan wuu dhammaaday",
    },
    "revoked": {
        "sv": "Länken gäller inte längre",
        "en": "This link is no longer valid",
        "ar": "هذا الرابط لم يعد صالحًا",
        "so": "Linkigan mar dambe ma shaqeynayo",
    },
    "unknown": {
        "sv": "Länken finns inte",
        "en": "This link does not exist",
        "ar": "هذا الرابط غير موجود",
        "so": "Linkigan ma jiro",
    },
    "ask_again": {
        "sv": "Be personen som gav dig länken om en ny om du vill svara.",
        "en": "Ask the person who gave you the link for a new one if you want to answer.",
        "ar": "اطلب رابطًا جديدًا من الشخص الذي أعطاك الرابط إذا كنت ترغب في الإجابة.",
        "so": "Haddii aad rabto inaad jawaabto, weydii qofkii ku siiyay linkiga mid cusub.",
    },
    "too_many": {
        "sv": "För många försök. Vänta en stund och försök igen.",
        "en": "Too many attempts. Wait a while and try again.",
        "ar": "محاولات كثيرة جدًا. انتظر قليلًا ثم حاول مرة أخرى.",
        "so": "Isku day aad u badan. Wax yar sug kadibna mar kale isku day.",
    },
}


def texts_for(lang: str) -> dict[str, str]:
    return {key: values[lang] for key, values in TEXTS.items()}


def every_language(key: str) -> list[tuple[str, str, str]]:
    """``(lang, direction, text)`` for each language (pages before a language is chosen)."""
    return [(lang, DIRECTION[lang], TEXTS[key][lang]) for lang in LANGUAGE_NAMES]
