//! The catalogue of every stable `code` the API answers with: the `code` of a problem
//! document and the `code` of each of its `violations[]`. Each code has the HTTP status of the
//! problem it answers (for a violation, of the problem that lists it) and its English and Italian
//! detail templates; `{name}` in a template is filled by the site that raises it
//! ([`ErrorCode::with`]). The templates are what the answers say: a site that words one code
//! differently says so explicitly ([`ErrorCode::worded`]).

use std::fmt::{self, Display};

use super::violation::Msg;

macro_rules! catalogue {
    ($($variant:ident = $code:literal, $status:literal, $en:literal, $it:literal;)*) => {
        /// A stable error code of the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ErrorCode {
            $($variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the catalogue.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The stable snake_case string of the API.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status of a problem with this code (422 for a rule of a body).
            pub const fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$variant => $status,)*
                }
            }

            /// The English template.
            pub const fn en(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $en,)*
                }
            }

            /// The Italian template.
            pub const fn it(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $it,)*
                }
            }
        }
    };
}

catalogue! {
    AccountRateLimited = "account_rate_limited", 429,
        "Too many wrong passwords for this account: it waits {retry_after} s before the next try.",
        "Troppe password errate per questo account: attende {retry_after} s prima del prossimo tentativo.";
    ActDateInFuture = "act_date_in_future", 422,
        "An act cannot be dated after today ({today}).",
        "Un atto non può avere una data successiva a oggi ({today}).";
    AdheringPartnerNotPublic = "adhering_partner_not_public", 422,
        "Only a public body may join as an adhering partner.",
        "Solo un ente pubblico può partecipare come partner aderente.";
    AdminsNeverReview = "admins_never_review", 403,
        "Administrators watch the review but never decide admissibility or score.",
        "Gli amministratori seguono l'istruttoria ma non decidono l'ammissibilità né assegnano punteggi.";
    AdmissibilityAlreadyDecided = "admissibility_already_decided", 409,
        "The admissibility of this application has already been decided.",
        "L'ammissibilità di questa domanda è già stata decisa.";
    AgencyNotAllowed = "agency_not_allowed", 422,
        "Only evaluators belong to an agency.",
        "Solo i valutatori appartengono a un'ATS.";
    AgencyRequired = "agency_required", 422,
        "An evaluator must belong to an agency.",
        "Un valutatore deve appartenere a un'ATS.";
    AlreadyDeclared = "already_declared", 409,
        "You have already declared on this application; a declaration is not changed.",
        "Ha già reso la dichiarazione su questa domanda; una dichiarazione non si modifica.";
    AlreadyRepresentative = "already_representative", 409,
        "This user already represents the organization.",
        "Questo utente rappresenta già l'ente.";
    AlreadyStarted = "already_started", 409,
        "The project already started on {start_date}: its start is communicated once.",
        "Il progetto è già stato avviato il {start_date}: l'avvio si comunica una sola volta.";
    AlreadySubmitted = "already_submitted", 409,
        "The application has already been submitted; an application is submitted once.",
        "La domanda è già stata presentata; una domanda si presenta una sola volta.";
    AmendmentRequired = "amendment_required", 422,
        "The dates of a published call change only by an amendment: give its act number and date.",
        "Le date di un avviso pubblicato cambiano solo con un atto di modifica: indicarne numero e data.";
    AmountOverflow = "amount_overflow", 422,
        "The cost lines add up beyond any amount allowed.",
        "Le voci di costo superano qualsiasi importo ammesso.";
    AmountZero = "amount_zero", 422,
        "{subject_en} must be above 0.00.",
        "{subject_it} deve essere maggiore di 0.00.";
    AnnexNotSigned = "annex_not_signed", 422,
        "The annex {kind} ({name_en}) must be a CAdES envelope (.p7m) with a valid signature of the legal representative of {organization}.",
        "L'allegato {kind} ({name_it}) deve essere una busta CAdES (.p7m) con una firma valida del legale rappresentante di {organization}.";
    ApplicationExists = "application_exists", 409,
        "This partnership already has an application for the call.",
        "Questo partenariato ha già una domanda per l'avviso.";
    ApplicationNotDraft = "application_not_draft", 409,
        "The application has been submitted: its content is frozen.",
        "La domanda è stata presentata: il suo contenuto è congelato.";
    ApplicationNotFound = "application_not_found", 404,
        "There is no such application that you may see.",
        "Non esiste una domanda con questo identificativo visibile a lei.";
    AtsNotAllowed = "ats_not_allowed", 422,
        "An ATS manages the call on its territory and can never be a partner.",
        "Un'ATS gestisce l'avviso sul proprio territorio e non può mai essere partner.";
    BalanceTrancheLast = "balance_tranche_last", 422,
        "The last tranche, and only it, is the balance paid when the final report is approved (final_report_approved).",
        "L'ultima tranche, e solo essa, è il saldo erogato all'approvazione della rendicontazione (final_report_approved).";
    BelowCommitted = "below_committed", 422,
        "{agency} has committed {committed} in grants: its envelope cannot be lower.",
        "{agency} ha impegnato {committed} in contributi: la sua dotazione non può essere inferiore.";
    BudgetTotalChanged = "budget_total_changed", 422,
        "A budget shift keeps the total: the lines add up to {total}, the approved budget to {approved}.",
        "Una variazione di budget mantiene il totale: le voci sommano {total}, il budget approvato {approved}.";
    BudgetEmpty = "budget_empty", 422,
        "The budget needs at least one cost line above 0.00.",
        "Il budget richiede almeno una voce di costo maggiore di 0.00.";
    CallAlreadyPublished = "call_already_published", 409,
        "The call is already published.",
        "L'avviso è già pubblicato.";
    CallClosed = "call_closed", 422,
        "The call's submission window has closed: its partnerships can no longer change.",
        "La finestra di presentazione dell'avviso è chiusa: i suoi partenariati non possono più cambiare.";
    CallCodeTaken = "call_code_taken", 409,
        "A call with code {code} already exists.",
        "Esiste già un avviso con codice {code}.";
    CallNotFound = "call_not_found", 404,
        "There is no such call.",
        "Questo avviso non esiste.";
    CannotDemoteSelf = "cannot_demote_self", 422,
        "An administrator cannot disable or demote their own account.",
        "Un amministratore non può disabilitare o declassare il proprio account.";
    CannotRemoveLead = "cannot_remove_lead", 422,
        "The lead cannot be removed: delete the partnership instead.",
        "Il capofila non può essere rimosso: eliminare invece il partenariato.";
    CategoryAboveCap = "category_above_cap", 422,
        "{code} adds up to {sum}, more than {cap}% of the total {total_cost}.",
        "{code} somma {sum}, più del {cap}% del totale {total_cost}.";
    CategoryNotAllowed = "category_not_allowed", 422,
        "Public bodies are required but not allowed.",
        "Gli enti pubblici sono richiesti ma non ammessi.";
    CoFinancingMismatch = "co_financing_mismatch", 422,
        "The co-financing is the total {total_cost} minus the grant {grant}: {expected}.",
        "Il cofinanziamento è il totale {total_cost} meno il contributo {grant}: {expected}.";
    ConflictDeclarationRequired = "conflict_declaration_required", 403,
        "Declare whether you have a conflict of interest with the partnership's members first (POST .../conflict-of-interest).",
        "Dichiarare prima l'eventuale conflitto di interessi con i membri del partenariato (POST .../conflict-of-interest).";
    ConflictDeclared = "conflict_declared", 403,
        "You declared a conflict of interest: you may not work on this application.",
        "Ha dichiarato un conflitto di interessi: non può lavorare su questa domanda.";
    ControlCharacter = "control_character", 422,
        "The URL must not contain control characters such as line breaks or tabs.",
        "L'URL non deve contenere caratteri di controllo come a capo o tabulazioni.";
    CorsHeadersNotAllowed = "cors_headers_not_allowed", 400,
        "A header asked for in Access-Control-Request-Headers is not allowed from a browser.",
        "Un'intestazione indicata in Access-Control-Request-Headers non è consentita da un browser.";
    CorsMethodNotAllowed = "cors_method_not_allowed", 400,
        "The method asked for in Access-Control-Request-Method is not allowed from a browser.",
        "Il metodo indicato in Access-Control-Request-Method non è consentito da un browser.";
    CorsOriginNotAllowed = "cors_origin_not_allowed", 400,
        "This origin may not call the API from a browser (cors.allowed_origins).",
        "Questa origine non può chiamare l'API da un browser (cors.allowed_origins).";
    CorsRequestInvalid = "cors_request_invalid", 400,
        "The cross-origin request is not valid: {reason}.",
        "La richiesta cross-origin non è valida: {reason}.";
    CredentialsInUrl = "credentials_in_url", 422,
        "The URL must not carry credentials: the signature authenticates the service.",
        "L'URL non deve contenere credenziali: la firma autentica il servizio.";
    CriterionMissing = "criterion_missing", 422,
        "{code} must be scored.",
        "{code} deve essere valutato.";
    DatabaseUnavailable = "database_unavailable", 503,
        "The database is not reachable right now; retry shortly.",
        "Il database non è raggiungibile in questo momento; riprovare a breve.";
    DocumentContentNotKept = "document_content_not_kept", 404,
        "This annex was registered as a file kept elsewhere: the service has none of its bytes.",
        "Questo allegato è stato registrato come file conservato altrove: il servizio non ne ha il contenuto.";
    DocumentNotFound = "document_not_found", 404,
        "The application has no such document.",
        "La domanda non ha questo documento.";
    DuplicatePart = "duplicate_part", 422,
        "The form has more than one {part} part.",
        "Il modulo ha più di una parte {part}.";
    Duplicate = "duplicate", 422,
        "Each event type once.",
        "Ogni tipo di evento una sola volta.";
    DuplicateAgency = "duplicate_agency", 422,
        "{agency} has more than one envelope.",
        "{agency} ha più di una dotazione.";
    DuplicateCode = "duplicate_code", 422,
        "{code} appears twice.",
        "{code} compare due volte.";
    DuplicateKey = "duplicate_key", 400,
        "`{name}` appears more than once in its object: name each field once.",
        "`{name}` compare più di una volta nel suo oggetto: indicare ogni campo una volta sola.";
    DurationExceeded = "duration_exceeded", 422,
        "A project lasts at most {months} months: it must end by {end_by}.",
        "Un progetto dura al massimo {months} mesi: deve terminare entro il {end_by}.";
    EvidenceRequired = "evidence_required", 422,
        "Each cost line of a final report needs at least one evidence file.",
        "Ogni voce di costo del rendiconto richiede almeno un file di prova.";
    EmptyFile = "empty_file", 422,
        "The file is empty.",
        "Il file è vuoto.";
    EmptyList = "empty_list", 422,
        "Choose at least one intervention area.",
        "Scegliere almeno un'area di intervento.";
    EmptyRange = "empty_range", 422,
        "The range must end after it starts.",
        "L'intervallo deve terminare dopo l'inizio.";
    EndBeforeStart = "end_before_start", 422,
        "The project ends before it starts.",
        "Il progetto termina prima di iniziare.";
    EnterprisesOnly = "enterprises_only", 422,
        "Only enterprises declare this.",
        "Solo le imprese dichiarano questo dato.";
    EnvelopesSumMismatch = "envelopes_sum_mismatch", 422,
        "The envelopes add up to {sum}, but the call's total is {total}.",
        "Le dotazioni sommano {sum}, ma il totale dell'avviso è {total}.";
    EvaluationFinal = "evaluation_final", 409,
        "Your evaluation is final: only an administrator can reopen it, with a reason.",
        "La sua valutazione è definitiva: solo un amministratore può riaprirla, motivando.";
    EvaluationNotFinal = "evaluation_not_final", 409,
        "Only a final evaluation is reopened.",
        "Si riapre solo una valutazione definitiva.";
    EvaluationNotFound = "evaluation_not_found", 404,
        "The application has no such evaluation.",
        "La domanda non ha questa valutazione.";
    EvaluationsMissing = "evaluations_missing", 409,
        "{protocol} has {finals} of the {required} final evaluations required.",
        "{protocol} ha {finals} delle {required} valutazioni definitive richieste.";
    ExternalFilesDisabled = "external_files_disabled", 415,
        "Upload the file as multipart/form-data, a metadata part and a file part: this service keeps the files of its annexes.",
        "Caricare il file come multipart/form-data, con una parte metadata e una parte file: il servizio conserva i file degli allegati.";
    ExtensionTooLong = "extension_too_long", 422,
        "The end date can be extended to {latest} at the latest ({months} months after the original end date).",
        "La data di fine si può prorogare al più tardi al {latest} ({months} mesi dopo la data di fine originaria).";
    FileNameContradictsType = "file_name_contradicts_type", 415,
        "The file name {file_name} says another type than its content, which is {media_type}.",
        "Il nome del file {file_name} indica un tipo diverso dal suo contenuto, che è {media_type}.";
    FileTooLarge = "file_too_large", 413,
        "The file is larger than {limit} bytes, the limit of this kind of annex.",
        "Il file supera i {limit} byte, il limite di questo tipo di allegato.";
    FourEyes = "four_eyes", 403,
        "You authorized this payment: another person records it (four eyes).",
        "Ha autorizzato questo pagamento: lo registra un'altra persona (principio dei quattro occhi).";
    FragmentInUrl = "fragment_in_url", 422,
        "The URL must not have a fragment.",
        "L'URL non deve avere un frammento.";
    GrantAboveCap = "grant_above_cap", 422,
        "The grant may be at most {grant_cap}.",
        "Il contributo può essere al massimo {grant_cap}.";
    GrantAboveRate = "grant_above_rate", 422,
        "The grant may be at most {grant_rate}% of the eligible total {total_cost}, rounded down: {by_rate}.",
        "Il contributo può essere al massimo il {grant_rate}% del costo ammissibile {total_cost}, arrotondato per difetto: {by_rate}.";
    GrantNotAccepted = "grant_not_accepted", 409,
        "Only an accepted grant can start.",
        "Si avvia solo un contributo accettato.";
    GrantNotFound = "grant_not_found", 404,
        "There is no such grant that you may see.",
        "Non esiste un contributo con questo identificativo visibile a lei.";
    GrantNotLive = "grant_not_live", 409,
        "Only an offered or accepted grant can be revoked.",
        "Si revoca solo un contributo offerto o accettato.";
    IdempotencyInProgress = "idempotency_in_progress", 409,
        "A request with this Idempotency-Key is still running: retry after Retry-After seconds.",
        "Una richiesta con questa Idempotency-Key è ancora in corso: riprovare dopo i secondi indicati da Retry-After.";
    IdempotencyKeyReused = "idempotency_key_reused", 422,
        "This Idempotency-Key was used for another request: use a new key for a new request.",
        "Questa Idempotency-Key è stata usata per un'altra richiesta: usare una chiave nuova per una richiesta nuova.";
    ImmutableField = "immutable_field", 422,
        "The tax code identifies the organization in the registry and never changes.",
        "Il codice fiscale identifica l'ente nel registro e non cambia mai.";
    InsecureUrl = "insecure_url", 422,
        "The URL must use https.",
        "L'URL deve usare https.";
    IntegrationClosed = "integration_closed", 409,
        "No request for integration is open on this application.",
        "Nessuna richiesta di integrazione è aperta su questa domanda.";
    IntegrationPending = "integration_pending", 409,
        "An integration was requested and its deadline has not passed: the case waits for the applicant's answer.",
        "È stata richiesta un'integrazione e il termine non è scaduto: la pratica attende la risposta del richiedente.";
    InternalError = "internal_error", 500,
        "An unexpected error occurred; it has been logged with the request id.",
        "Si è verificato un errore imprevisto; è stato registrato con l'id della richiesta.";
    InvalidBody = "invalid_body", 400,
        "The body has fields this operation does not know, or values of the wrong type; see violations.",
        "Il corpo contiene campi sconosciuti per questa operazione o valori di tipo errato; vedere violations.";
    InvalidCallCode = "invalid_call_code", 422,
        "A call code has 3 to 40 capital letters, digits, '-' or '_'.",
        "Il codice di un avviso ha da 3 a 40 lettere maiuscole, cifre, '-' o '_'.";
    InvalidChamberRegistration = "invalid_chamber_registration", 422,
        "The chamber-of-commerce registration is the REA number as PROVINCE-NUMBER, e.g. SO-123456.",
        "L'iscrizione alla Camera di Commercio è il numero REA nella forma PROVINCIA-NUMERO, ad esempio SO-123456.";
    InvalidCode = "invalid_code", 422,
        "A code has 1 to 40 letters, digits, '_' or '-'.",
        "Un codice ha da 1 a 40 lettere, cifre, '_' o '-'.";
    InvalidCredentials = "invalid_credentials", 401,
        "The user name or the password is wrong, or the account is disabled.",
        "Nome utente o password errati, oppure l'account è disabilitato.";
    InvalidCup = "invalid_cup", 422,
        "The CUP has 15 capital letters and digits, e.g. J51B22000120002.",
        "Il CUP ha 15 lettere maiuscole e cifre, ad esempio J51B22000120002.";
    InvalidDecimal = "invalid_decimal", 422,
        "Staff is a decimal number as a string, such as \"7.50\".",
        "Il personale è un numero decimale come stringa, ad esempio \"7.50\".";
    InvalidFileName = "invalid_file_name", 422,
        "A file name has 1 to 255 characters and no path.",
        "Un nome di file ha da 1 a 255 caratteri e nessun percorso.";
    InvalidForm = "invalid_form", 400,
        "The form is not valid: {reason}.",
        "Il modulo non è valido: {reason}.";
    InvalidIdempotencyKey = "invalid_idempotency_key", 400,
        "Idempotency-Key is 1 to 255 visible ASCII characters, e.g. a UUID.",
        "Idempotency-Key ha da 1 a 255 caratteri ASCII visibili, ad esempio un UUID.";
    InvalidMergePatch = "invalid_merge_patch", 400,
        "A merge patch is a JSON object.",
        "Una merge patch è un oggetto JSON.";
    InvalidName = "invalid_name", 422,
        "A name has 1 to 300 characters.",
        "Un nome ha da 1 a 300 caratteri.";
    InvalidPathParameter = "invalid_path_parameter", 400,
        "The path parameter {name} is not valid. {reason_en}",
        "Il parametro del percorso {name} non è valido. {reason_it}";
    InvalidQueryParameter = "invalid_query_parameter", 400,
        "The query parameter {name} is not valid. {reason_en}",
        "Il parametro della query {name} non è valido. {reason_it}";
    InvalidRequest = "invalid_request", 400,
        "This grant type needs the fields: {field}.",
        "Questo tipo di grant richiede i campi: {field}.";
    InvalidSha256 = "invalid_sha256", 422,
        "The SHA-256 is 64 lower-case hexadecimal characters.",
        "Lo SHA-256 è di 64 caratteri esadecimali minuscoli.";
    InvalidText = "invalid_text", 422,
        "{subject_en} has 1 to {max} characters.",
        "{subject_it} ha da 1 a {max} caratteri.";
    InvalidToken = "invalid_token", 401,
        "The token is missing, malformed, expired, not yet valid, or not meant for this service.",
        "Il token manca, è malformato, scaduto, non ancora valido o non destinato a questo servizio.";
    InvalidType = "invalid_type", 422,
        "{reason_en}",
        "{reason_it}";
    InvalidUrl = "invalid_url", 422,
        "Not an absolute URL.",
        "Non è un URL assoluto.";
    InvalidUsername = "invalid_username", 422,
        "The user name is a lower-case e-mail address.",
        "Il nome utente è un indirizzo e-mail in minuscolo.";
    InvalidValue = "invalid_value", 422,
        "{reason_en}",
        "{reason_it}";
    InvitationAlreadyAnswered = "invitation_already_answered", 409,
        "The organization has already accepted: it is a member. To leave, ask the lead to remove it.",
        "L'ente ha già accettato: è membro. Per uscire, chiedere al capofila di rimuoverlo.";
    InvitationNotFound = "invitation_not_found", 404,
        "There is no invitation of an organization you represent in this partnership.",
        "Non esiste un invito di un ente da lei rappresentato in questo partenariato.";
    JustificationRequired = "justification_required", 422,
        "Each score needs a written justification (up to 5000 characters).",
        "Ogni punteggio richiede una motivazione scritta (fino a 5000 caratteri).";
    LeadOnly = "lead_only", 403,
        "Only the representatives of the lead partner may do this; the other members read it.",
        "Solo i rappresentanti del capofila possono farlo; gli altri partner ne hanno la lettura.";
    LegalRepresentativeMissing = "legal_representative_missing", 422,
        "The annex {kind} ({name_en}) must be signed by the legal representative of {organization}, who has none yet: its representatives name one in the registry.",
        "L'allegato {kind} ({name_it}) deve essere firmato dal legale rappresentante di {organization}, che non è ancora indicato: lo indicano i suoi rappresentanti nell'anagrafe.";
    LockedAfterOpening = "locked_after_opening", 422,
        "The rules of a call cannot change once its window has opened.",
        "Le regole di un avviso non possono cambiare dopo l'apertura della finestra.";
    MalformedJson = "malformed_json", 400,
        "The body is not valid JSON: {reason}.",
        "Il corpo non è un JSON valido: {reason}.";
    MalformedMultipart = "malformed_multipart", 400,
        "The body is not a readable multipart/form-data form (parts metadata and file).",
        "Il corpo non è un modulo multipart/form-data leggibile (parti metadata e file).";
    MaxNotAboveMin = "max_not_above_min", 422,
        "A criterion's maximum must be above its minimum.",
        "Il massimo di un criterio deve superarne il minimo.";
    MemberAlreadyPresent = "member_already_present", 409,
        "This organization is already a member of the partnership, or invited to be.",
        "Questo ente è già membro del partenariato, o invitato a esserlo.";
    MemberNotFound = "member_not_found", 404,
        "This organization is not a member of the partnership.",
        "Questo ente non è membro del partenariato.";
    MethodNotAllowed = "method_not_allowed", 405,
        "This path takes {allow} only (see the Allow header).",
        "Questo percorso accetta solo {allow} (vedere l'intestazione Allow).";
    MetricsTokenRequired = "metrics_token_required", 401,
        "The metrics ask for the configured bearer token.",
        "Le metriche richiedono il token bearer configurato.";
    MissingAgency = "missing_agency", 422,
        "{agency} has no envelope: every agency needs one (0.00 is allowed).",
        "{agency} non ha una dotazione: ogni ATS ne deve avere una (0.00 è ammesso).";
    MissingAnnex = "missing_annex", 422,
        "The annex {kind} ({name_en}) is required.",
        "L'allegato {kind} ({name_it}) è obbligatorio.";
    MissingField = "missing_field", 422,
        "This field is required.",
        "Il campo è obbligatorio.";
    MissingHost = "missing_host", 422,
        "The URL must name a host.",
        "L'URL deve indicare un host.";
    MissingPart = "missing_part", 422,
        "The form has no {part} part.",
        "Il modulo non ha la parte {part}.";
    MissingToken = "missing_token", 401,
        "This operation needs a bearer token: log in at /api/v1/auth/login or /api/v1/auth/token.",
        "L'operazione richiede un token bearer: accedere con /api/v1/auth/login o /api/v1/auth/token.";
    MoneyFormat = "money_format", 422,
        "an amount is a string with exactly two decimals, such as \"50000.00\"",
        "un importo è una stringa con esattamente due decimali, ad esempio \"50000.00\"";
    MoneyNegative = "money_negative", 422,
        "an amount cannot be negative",
        "un importo non può essere negativo";
    MoneyNotAString = "money_not_a_string", 422,
        "an amount must be a JSON string with exactly two decimals, such as \"50000.00\", not a number",
        "un importo deve essere una stringa JSON con esattamente due decimali, ad esempio \"50000.00\", non un numero";
    MoneyTooLarge = "money_too_large", 422,
        "an amount has at most 12 digits before the decimal point (at most \"999999999999.99\")",
        "un importo ha al massimo 12 cifre prima del separatore decimale (al massimo \"999999999999.99\")";
    MoneyTooManyDecimals = "money_too_many_decimals", 422,
        "an amount has exactly two decimals: fractions of a cent are not allowed",
        "un importo ha esattamente due decimali: le frazioni di centesimo non sono ammesse";
    MoreThanUnused = "more_than_unused", 422,
        "{agency} has {unused} unused: no more can be moved.",
        "{agency} ha {unused} non utilizzati: non si può spostare di più.";
    NoDraftRanking = "no_draft_ranking", 409,
        "There is no draft ranking to approve: compute one first.",
        "Non c'è una graduatoria in bozza da approvare: calcolarne prima una.";
    NotAMember = "not_a_member", 422,
        "A cost is borne by a member of the partnership.",
        "Un costo è sostenuto da un membro del partenariato.";
    NotAdmitted = "not_admitted", 409,
        "Only an admitted application is scored.",
        "Si assegnano punteggi solo a una domanda ammessa.";
    NotRepresented = "not_represented", 422,
        "The lead must be an organization you represent.",
        "Il capofila deve essere un ente che lei rappresenta.";
    NotSubmitted = "not_submitted", 409,
        "Only a submitted application can be withdrawn (a draft is deleted instead).",
        "Solo una domanda presentata può essere ritirata (una bozza si elimina).";
    NotUnderReview = "not_under_review", 409,
        "Only a submitted application is reviewed.",
        "Si istruiscono solo le domande presentate.";
    NoteRequired = "note_required", 422,
        "The reason `other` needs a note.",
        "Il motivo `other` richiede una nota.";
    NothingToAmend = "nothing_to_amend", 422,
        "An amendment records a change of dates, and the dates do not change.",
        "Un atto di modifica registra un cambio di date, e le date non cambiano.";
    NotificationNotFound = "notification_not_found", 404,
        "There is no such notice in your inbox.",
        "Questo avviso non è nella sua casella.";
    OfferAnswered = "offer_answered", 409,
        "The offer has already been answered.",
        "All'offerta è già stata data risposta.";
    OfferExpired = "offer_expired", 409,
        "The acceptance deadline has passed: the offer has lapsed.",
        "Il termine per l'accettazione è scaduto: l'offerta è decaduta.";
    OneLead = "one_lead", 422,
        "A partnership has exactly one lead, set when it is created.",
        "Un partenariato ha esattamente un capofila, indicato alla creazione.";
    OneOfIdOrTaxCode = "one_of_id_or_tax_code", 422,
        "Give exactly one of organization_id and tax_code.",
        "Indicare esattamente uno tra organization_id e tax_code.";
    OneRegisteredOffice = "one_registered_office", 422,
        "An organization has exactly one registered office; {registered} were given.",
        "Un ente ha esattamente una sede legale; ne sono state indicate {registered}.";
    OrderBeforeLiquidation = "order_before_liquidation", 422,
        "The payment order cannot be dated before the liquidation act ({liquidation_date}).",
        "Il mandato di pagamento non può avere una data anteriore all'atto di liquidazione ({liquidation_date}).";
    OrganizationNotFound = "organization_not_found", 404,
        "There is no such organization that you may see.",
        "Non esiste un ente con questo identificativo visibile a lei.";
    OtherAgency = "other_agency", 403,
        "This belongs to a grant of another ATS.",
        "Questo riguarda un contributo di un'altra ATS.";
    OutOfRange = "out_of_range", 422,
        "{subject_en} is {min} to {max}.",
        "{subject_it} va da {min} a {max}.";
    OutsideWindow = "outside_window", 422,
        "The submission window has closed.",
        "La finestra di presentazione è chiusa.";
    PartnershipAdheringPartnersArePublicBodies = "partnership_adhering_partners_are_public_bodies", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipAllowedCategories = "partnership_allowed_categories", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipEntityCaps = "partnership_entity_caps", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipFrozen = "partnership_frozen", 409,
        "The partnership's application has been submitted: its members can no longer change.",
        "La domanda del partenariato è stata presentata: i suoi membri non possono più cambiare.";
    PartnershipHasApplication = "partnership_has_application", 409,
        "The partnership has an application: delete the draft first (a submitted one can only be withdrawn).",
        "Il partenariato ha una domanda: eliminare prima la bozza (una domanda presentata si può solo ritirare).";
    PartnershipInvitationsAccepted = "partnership_invitations_accepted", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipLeadSeat = "partnership_lead_seat", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipMinMembers = "partnership_min_members", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipMinMicroSmallEnterprises = "partnership_min_micro_small_enterprises", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipMinPublicBodies = "partnership_min_public_bodies", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipNonLombardEnterprises = "partnership_non_lombard_enterprises", 422,
        "{reason_en}",
        "{reason_it}";
    PartnershipNotFound = "partnership_not_found", 404,
        "There is no such partnership that you may see.",
        "Non esiste un partenariato con questo identificativo visibile a lei.";
    PasswordContainsUsername = "password_contains_username", 422,
        "A password must not contain the user name or the part of it before the @: it is the first thing an attacker tries.",
        "La password non deve contenere il nome utente né la sua parte prima della @: è la prima cosa che un attaccante prova.";
    PasswordLength = "password_length", 422,
        "A password has 12 to 128 characters.",
        "Una password ha da 12 a 128 caratteri.";
    PasswordTooCommon = "password_too_common", 422,
        "This password is on a list of commonly used passwords that attackers try first: choose another one.",
        "Questa password è in un elenco di password molto usate che gli attaccanti provano per prime: sceglierne un'altra.";
    PasswordTooSimple = "password_too_simple", 422,
        "A password must not repeat a single character.",
        "La password non deve ripetere un solo carattere.";
    PayloadTooLarge = "payload_too_large", 413,
        "The request body exceeds the limit of {limit} bytes.",
        "Il corpo della richiesta supera il limite di {limit} byte.";
    PaymentAboveGrant = "payment_above_grant", 422,
        "Paying {amount} would bring the total paid to {total}, above the grant of {ceiling}.",
        "Pagare {amount} porterebbe il totale erogato a {total}, oltre il contributo di {ceiling}.";
    PaymentAlreadyAuthorized = "payment_already_authorized", 409,
        "The payment is already authorized: it waits to be recorded paid or failed.",
        "Il pagamento è già autorizzato: attende di essere registrato come pagato o non riuscito.";
    PaymentAlreadyPaid = "payment_already_paid", 409,
        "The payment has been paid: it no longer changes.",
        "Il pagamento è stato eseguito: non cambia più.";
    PaymentCancelled = "payment_cancelled", 409,
        "The payment was cancelled: it no longer changes.",
        "Il pagamento è stato annullato: non cambia più.";
    PaymentNotAuthorized = "payment_not_authorized", 409,
        "Only an authorized payment is recorded as paid or failed.",
        "Si registra come pagato o non riuscito solo un pagamento autorizzato.";
    PaymentNotFound = "payment_not_found", 404,
        "There is no such payment that you may see.",
        "Non esiste un pagamento con questo identificativo visibile a lei.";
    PercentFormat = "percent_format", 422,
        "a percentage is a string with exactly two decimals, such as \"70.00\"",
        "una percentuale è una stringa con esattamente due decimali, ad esempio \"70.00\"";
    PercentNotAString = "percent_not_a_string", 422,
        "a percentage must be a JSON string with exactly two decimals, such as \"70.00\", not a number",
        "una percentuale deve essere una stringa JSON con esattamente due decimali, ad esempio \"70.00\", non un numero";
    PercentOutOfRange = "percent_out_of_range", 422,
        "a percentage must be between \"0.00\" and \"100.00\"",
        "una percentuale deve essere compresa tra \"0.00\" e \"100.00\"";
    PointsFormat = "points_format", 422,
        "points are a string with at most one decimal place, such as \"25.0\" or \"7.5\"",
        "i punti sono una stringa con al massimo un decimale, ad esempio \"25.0\" o \"7.5\"";
    PointsOutOfRange = "points_out_of_range", 422,
        "points must be between 0.0 and 1000.0",
        "i punti devono essere compresi tra 0.0 e 1000.0";
    PreconditionFailed = "precondition_failed", 412,
        "The resource changed since you read it: read it again and retry with its new ETag.",
        "La risorsa è cambiata da quando è stata letta: rileggerla e riprovare con il nuovo ETag.";
    PreconditionRequired = "precondition_required", 428,
        "This operation requires an If-Match header with the resource's ETag.",
        "L'operazione richiede l'intestazione If-Match con l'ETag della risorsa.";
    PrivateAddress = "private_address", 422,
        "{reason_en}: webhooks are sent to public addresses only.",
        "{reason_it}: i webhook si inviano solo a indirizzi pubblici.";
    ProjectNotLive = "project_not_live", 409,
        "Only a started project that is still live (not closed, revoked or renounced) changes.",
        "Cambia solo un progetto avviato e ancora in corso (non chiuso, revocato o rinunciato).";
    ProjectNotStarted = "project_not_started", 409,
        "Only a started project that is still live has a final report.",
        "Solo un progetto avviato e non concluso ha un rendiconto.";
    QuestionRequired = "question_required", 422,
        "Say what the applicant must provide.",
        "Indicare cosa deve fornire il richiedente.";
    RankingAlreadyApproved = "ranking_already_approved", 409,
        "The agency's ranking is approved: it changes only through new published versions (freed money, reallocations).",
        "La graduatoria dell'ATS è approvata: cambia solo con nuove versioni pubblicate (risorse liberate, riassegnazioni).";
    RankingApproved = "ranking_approved", 409,
        "The agency's ranking is approved: the application and its scores are frozen.",
        "La graduatoria dell'ATS è approvata: la domanda e i suoi punteggi sono congelati.";
    RankingEmpty = "ranking_empty", 409,
        "The draft ranking has no application: there is nothing to approve.",
        "La graduatoria in bozza non ha domande: non c'è nulla da approvare.";
    RankingInProgress = "ranking_in_progress", 409,
        "Another computation of this ranking ran at the same time: read the current version.",
        "Un altro calcolo di questa graduatoria è avvenuto nello stesso momento: leggere la versione corrente.";
    RankingNotFound = "ranking_not_found", 404,
        "This agency has no ranking of this call that you may see.",
        "Questa ATS non ha una graduatoria dell'avviso visibile a lei.";
    RankingStale = "ranking_stale", 409,
        "The inputs changed since the draft was computed (scores, withdrawals, envelope): compute it again.",
        "I dati sono cambiati dal calcolo della bozza (punteggi, ritiri, dotazione): ricalcolarla.";
    RangeNotSatisfiable = "range_not_satisfiable", 416,
        "The range asks for bytes the file does not have: it has {size}.",
        "L'intervallo chiede byte che il file non ha: ne ha {size}.";
    RateLimited = "rate_limited", 429,
        "Too many such requests from your address: retry in {retry_after} s.",
        "Troppe richieste di questo tipo dal suo indirizzo: riprovare tra {retry_after} s.";
    RateZero = "rate_zero", 422,
        "The grant rate must be above 0.",
        "L'intensità del contributo deve essere maggiore di 0.";
    ReasonsRequired = "reasons_required", 422,
        "Give at least one reason from the call's checklist.",
        "Indicare almeno un motivo dalla lista dell'avviso.";
    ReportNotFound = "report_not_found", 404,
        "There is no final report of this project to show yet.",
        "Non c'è ancora un rendiconto di questo progetto da mostrare.";
    ReportNotSubmitted = "report_not_submitted", 409,
        "The final report is still a draft: the ATS acts on it once it is submitted.",
        "Il rendiconto è ancora una bozza: l'ATS interviene una volta presentato.";
    ReportSubmitted = "report_submitted", 409,
        "The final report has already been submitted; it is submitted once and is then frozen.",
        "Il rendiconto è già stato presentato; si presenta una sola volta e poi non cambia.";
    ReportVerified = "report_verified", 409,
        "The final report has already been verified; it is verified once.",
        "Il rendiconto è già stato verificato; si verifica una sola volta.";
    ReceiptNotFound = "receipt_not_found", 404,
        "The application has not been submitted: it has no receipt.",
        "La domanda non è stata presentata: non ha una ricevuta.";
    RecoveryCancelled = "recovery_cancelled", 409,
        "The recovery order was cancelled: it no longer changes.",
        "L'ordine di recupero è stato annullato: non cambia più.";
    RecoveryNotFound = "recovery_not_found", 404,
        "There is no such recovery order that you may see.",
        "Non esiste un ordine di recupero con questo identificativo visibile a lei.";
    RecoverySettled = "recovery_settled", 409,
        "The recovery order has been settled: it no longer changes.",
        "L'ordine di recupero è stato saldato: non cambia più.";
    RefreshTokenReused = "refresh_token_reused", 401,
        "This refresh token was already exchanged: somebody may have copied it, so its session is ended. Log in again.",
        "Questo refresh token è già stato scambiato: qualcuno potrebbe averlo copiato, quindi la sua sessione è chiusa. Accedere di nuovo.";
    RequestTimeout = "request_timeout", 503,
        "The request took too long and was abandoned; its open transaction was rolled back. Retry shortly (with the same Idempotency-Key a retry is safe).",
        "La richiesta ha richiesto troppo tempo ed è stata abbandonata; la sua transazione aperta è stata annullata. Riprovare a breve (con la stessa Idempotency-Key riprovare è sicuro).";
    Required = "required", 422,
        "Subscribe to at least one event type.",
        "Sottoscrivere almeno un tipo di evento.";
    ResultsNotPublished = "results_not_published", 403,
        "Scores are shown to applicants once the agency's ranking is approved.",
        "I punteggi sono visibili ai richiedenti dopo l'approvazione della graduatoria dell'ATS.";
    ReviewPending = "review_pending", 422,
        "{protocol} has no admissibility decision yet.",
        "{protocol} non ha ancora una decisione di ammissibilità.";
    RoleNotAllowed = "role_not_allowed", 403,
        "Your role may not perform this operation.",
        "Il suo ruolo non consente questa operazione.";
    RouteNotFound = "route_not_found", 404,
        "No operation exists at this path with this method; see /docs.",
        "Nessuna operazione esiste a questo percorso con questo metodo; vedere /docs.";
    SameAgency = "same_agency", 422,
        "Money moves between two different agencies.",
        "Le risorse si spostano tra due ATS diverse.";
    ScoreOutOfRange = "score_out_of_range", 422,
        "{code} is scored from {min} to {max}.",
        "{code} si valuta da {min} a {max}.";
    SessionEnded = "session_ended", 401,
        "The session of this token has ended (logged out, or ended for safety). Log in again.",
        "La sessione di questo token è chiusa (uscita, o chiusa per sicurezza). Accedere di nuovo.";
    SizeUndeterminable = "size_undeterminable", 422,
        "An enterprise must declare its turnover or its balance-sheet total so that its size class can be computed.",
        "L'impresa deve dichiarare il fatturato o il totale di bilancio perché se ne possa calcolare la dimensione.";
    SplitDuplicateAgency = "split_duplicate_agency", 422,
        "the same agency appears more than once in the split",
        "la stessa agenzia compare più di una volta nella ripartizione";
    SplitNoAgencies = "split_no_agencies", 422,
        "the split needs at least one agency",
        "la ripartizione richiede almeno un'agenzia";
    SplitPinnedExceedTotal = "split_pinned_exceed_total", 422,
        "the fixed amounts exceed the total, or leave too little for the equal part of the other agencies",
        "gli importi fissati superano il totale, o non lasciano abbastanza per la quota uguale delle altre agenzie";
    SplitPinnedMismatch = "split_pinned_mismatch", 422,
        "every agency has a fixed amount, but the fixed amounts do not add up to the total",
        "tutte le agenzie hanno un importo fissato, ma la loro somma non corrisponde al totale";
    SplitTooLarge = "split_too_large", 422,
        "too many agencies, or populations too large, to compute the split exactly",
        "troppe agenzie, o popolazioni troppo grandi, per calcolare la ripartizione in modo esatto";
    SplitZeroPopulation = "split_zero_population", 422,
        "the agencies without a fixed amount all have zero population, so the proportional part cannot be computed",
        "le agenzie senza importo fissato hanno tutte popolazione zero, quindi la quota proporzionale non può essere calcolata";
    StaffNegative = "staff_negative", 422,
        "The staff (annual work units) cannot be negative.",
        "Gli effettivi (unità lavorative annue) non possono essere negativi.";
    StaffOutOfRange = "staff_out_of_range", 422,
        "The staff (annual work units) cannot be more than 10,000,000.",
        "Gli effettivi (unità lavorative annue) non possono superare 10.000.000.";
    StaffPrecision = "staff_precision", 422,
        "The staff (annual work units) has at most two decimals, such as \"12.75\".",
        "Gli effettivi (unità lavorative annue) hanno al massimo due decimali, ad esempio \"12.75\".";
    StartBeforeAcceptance = "start_before_acceptance", 422,
        "The project cannot start before the grant was accepted ({accepted_on}).",
        "Il progetto non può iniziare prima dell'accettazione del contributo ({accepted_on}).";
    StorageUnavailable = "storage_unavailable", 503,
        "The file storage is unavailable; nothing was kept. Try again later.",
        "L'archivio dei file non è disponibile; non è stato conservato nulla. Riprovare più tardi.";
    SubtypeCategoryMismatch = "subtype_category_mismatch", 422,
        "{subtype} is not a kind of {category}.",
        "{subtype} non è un tipo di {category}.";
    TaxCodeCheck = "tax_code_check", 422,
        "The tax code's check character is wrong: it is not a valid codice fiscale.",
        "Il carattere di controllo del codice fiscale è errato.";
    TaxCodeFormat = "tax_code_format", 422,
        "A tax code (codice fiscale) is either 11 digits or 16 letters and digits, such as \"RSSMRA85T10A562S\".",
        "Il codice fiscale è composto da 11 cifre oppure da 16 lettere e cifre, ad esempio \"RSSMRA85T10A562S\".";
    TaxCodeTaken = "tax_code_taken", 409,
        "An organization with tax code {tax_code} is already registered: ask one of its representatives to add you.",
        "Un ente con codice fiscale {tax_code} è già registrato: chiedere a un suo rappresentante di aggiungerla.";
    ThresholdAboveMaximum = "threshold_above_maximum", 422,
        "The threshold is above the grid's maximum total of {max_total}.",
        "La soglia supera il punteggio massimo della griglia ({max_total}).";
    TieBreakSubmissionLast = "tie_break_submission_last", 422,
        "The last tie-break rule must be earlier_submission, which always decides.",
        "L'ultimo criterio di parità deve essere earlier_submission, che decide sempre.";
    TokenRevoked = "token_revoked", 401,
        "The token is no longer valid: the user is disabled, or its password or role changed. Log in again.",
        "Il token non è più valido: l'utente è disabilitato o ne sono cambiati password o ruolo. Accedere di nuovo.";
    TooLong = "too_long", 422,
        "At most {max} characters.",
        "Al massimo {max} caratteri.";
    TooManyLines = "too_many_lines", 422,
        "A budget has at most 500 lines.",
        "Un budget ha al massimo 500 voci.";
    TrancheSharesSum = "tranche_shares_sum", 422,
        "The tranches' shares add up to {sum}%: they must add up to 100.00%.",
        "Le quote delle tranche sommano al {sum}%: devono sommare al 100.00%.";
    UnexpectedPart = "unexpected_part", 422,
        "The form has a part {part} that is not read: the parts are metadata and file.",
        "Il modulo ha una parte {part} che non viene letta: le parti sono metadata e file.";
    UnknownAgency = "unknown_agency", 422,
        "No such agency.",
        "ATS inesistente.";
    UnknownApplicant = "unknown_applicant", 422,
        "No active applicant has this user name.",
        "Nessun richiedente attivo ha questo nome utente.";
    UnknownArea = "unknown_area", 422,
        "{a} is not an intervention area of the call.",
        "{a} non è un'area di intervento dell'avviso.";
    UnknownCategory = "unknown_category", 422,
        "{category} is not an expense category of the call.",
        "{category} non è una categoria di spesa dell'avviso.";
    UnknownCriterion = "unknown_criterion", 422,
        "{criterion} is not a criterion of the grid.",
        "{criterion} non è un criterio della griglia.";
    UnknownEventType = "unknown_event_type", 422,
        "Unknown event type {event_type}; known: {list}.",
        "Tipo di evento sconosciuto {event_type}; noti: {list}.";
    UnknownEvidence = "unknown_evidence", 422,
        "{document_id} is not an evidence file of this project's final report.",
        "{document_id} non è un file di prova del rendiconto di questo progetto.";
    UnknownField = "unknown_field", 400,
        "`{name}` is not a field of this object; its fields are: {fields}.",
        "`{name}` non è un campo di questo oggetto; i suoi campi sono: {fields}.";
    UnknownDialect = "unknown_dialect", 422,
        "dialect is rfc4180 or excel-it.",
        "dialect è rfc4180 o excel-it.";
    UnknownFormat = "unknown_format", 422,
        "format is json or csv.",
        "format è json o csv.";
    UnknownKind = "unknown_kind", 422,
        "The kind is one of: {list}.",
        "Il tipo è uno tra: {list}.";
    UnknownOrganization = "unknown_organization", 422,
        "No organization of the registry has this identifier: it must be registered first.",
        "Nessun ente del registro ha questo identificativo: deve prima essere registrato.";
    UnknownProvince = "unknown_province", 422,
        "The province code is not the two-letter code of a current Italian province, such as \"SO\".",
        "La sigla della provincia non corrisponde a nessuna provincia italiana attuale, ad esempio \"SO\".";
    UnknownReason = "unknown_reason", 422,
        "{reason} is not in the call's checklist: {list}.",
        "{reason} non è nella lista dell'avviso: {list}.";
    UnreadableEnvelope = "unreadable_envelope", 422,
        "The file is a CAdES envelope (.p7m) the service cannot open: {reason_en}.",
        "Il file è una busta CAdES (.p7m) che il servizio non riesce ad aprire: {reason_it}.";
    UnsupportedGrantType = "unsupported_grant_type", 400,
        "grant_type must be password or refresh_token.",
        "grant_type deve essere password o refresh_token.";
    UnsupportedMediaType = "unsupported_media_type", 415,
        "The request body must be {expected}.",
        "Il corpo della richiesta deve essere {expected}.";
    UnsupportedFileType = "unsupported_file_type", 415,
        "The file is none of the types kept (read from its bytes): PDF, CAdES envelope (.p7m), PNG or JPEG.",
        "Il file non è di nessuno dei tipi ammessi (letto dal suo contenuto): PDF, busta CAdES (.p7m), PNG o JPEG.";
    UserNotFound = "user_not_found", 404,
        "There is no such user.",
        "Questo utente non esiste.";
    UsernameTaken = "username_taken", 409,
        "The user name {username} is already registered.",
        "Il nome utente {username} è già registrato.";
    ValidationFailed = "validation_failed", 422,
        "The request breaks {count} rule(s); see violations.",
        "La richiesta viola {count} regola/e; vedere violations.";
    VariationAwaitingConsent = "variation_awaiting_consent", 409,
        "The variation waits for the consent of the organization it adds.",
        "La variazione attende il consenso dell'ente che aggiunge.";
    VariationDecided = "variation_decided", 409,
        "The variation has already been decided; a variation is decided once.",
        "La variazione è già stata decisa; una variazione si decide una sola volta.";
    VariationNotFound = "variation_not_found", 404,
        "No such variation of this project.",
        "Nessuna variazione di questo progetto.";
    VariationOpen = "variation_open", 409,
        "Another variation of this project waits for a decision: one at a time.",
        "Un'altra variazione di questo progetto attende una decisione: una alla volta.";
    VatNumberCheck = "vat_number_check", 422,
        "The VAT number's check digit is wrong: it is not a valid partita IVA.",
        "La cifra di controllo della partita IVA è errata.";
    VatNumberFormat = "vat_number_format", 422,
        "A VAT number (partita IVA) is exactly 11 digits, not all zeros, such as \"00095450144\".",
        "La partita IVA è composta da esattamente 11 cifre, non tutte zero, ad esempio \"00095450144\".";
    WebhookNotFound = "webhook_not_found", 404,
        "There is no such webhook subscription.",
        "Non esiste una sottoscrizione webhook con questo identificativo.";
    WindowCloseNotAfterOpen = "window_close_not_after_open", 422,
        "The window must close after it opens.",
        "La finestra deve chiudersi dopo l'apertura.";
    WindowOpen = "window_open", 409,
        "The submission window has not closed yet: rankings come after it.",
        "La finestra di presentazione non è ancora chiusa: le graduatorie vengono dopo.";
}

impl ErrorCode {
    /// The code of a string of the API, if it is one.
    pub fn parse(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
    }

    /// The names of the `{placeholders}` of the templates, in order of first appearance
    /// (English first).
    pub fn placeholders(self) -> Vec<&'static str> {
        let mut names = placeholders(self.en());
        for name in placeholders(self.it()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// This code with its templates filled with `args` (each placeholder by name).
    pub fn with(self, args: &[(&str, &dyn Display)]) -> Coded {
        debug_assert_eq!(
            {
                let mut names: Vec<&str> = args.iter().map(|(n, _)| *n).collect();
                names.sort_unstable();
                names
            },
            {
                let mut names = self.placeholders();
                names.sort_unstable();
                names
            },
            "{}: the arguments must fill exactly the placeholders of its templates",
            self.as_str()
        );
        let values: Vec<(&str, String)> = args.iter().map(|(n, v)| (*n, v.to_string())).collect();
        Coded {
            code: self,
            message: Msg::new(fill(self.en(), &values), fill(self.it(), &values)),
        }
    }

    /// This code with a wording of its own, where a site says more than the template.
    pub fn worded(
        self,
        en: impl Into<std::borrow::Cow<'static, str>>,
        it: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Coded {
        Coded {
            code: self,
            message: Msg::new(en, it),
        }
    }

    /// The templates as they are, for a code without placeholders.
    pub fn message(self) -> Msg {
        debug_assert!(
            self.placeholders().is_empty(),
            "{} needs its placeholders filled: use `with`",
            self.as_str()
        );
        Msg::new(self.en(), self.it())
    }
}

/// The Markdown table of the catalogue, as the README shows it (`cargo run -- error-codes`):
/// code, HTTP status and English template, by status then code.
pub fn markdown_table() -> String {
    let mut codes = ErrorCode::ALL.to_vec();
    codes.sort_by_key(|c| (c.status(), c.as_str()));
    let mut out = String::from("| Code | Status | English detail |\n|---|---|---|\n");
    for code in codes {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            code.as_str(),
            code.status(),
            code.en().replace('|', "\\|")
        ));
    }
    out
}

impl Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A code with its message, as a site raises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coded {
    pub code: ErrorCode,
    pub message: Msg,
}

impl From<ErrorCode> for Coded {
    fn from(code: ErrorCode) -> Coded {
        Coded {
            code,
            message: code.message(),
        }
    }
}

/// The `{name}`s of a template.
fn placeholders(template: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + len];
        if !names.contains(&name) {
            names.push(name);
        }
        rest = &rest[start + len + 1..];
    }
    names
}

fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_strings() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} twice");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    && s.starts_with(|c: char| c.is_ascii_lowercase()),
                "{s} is not snake_case"
            );
            assert_eq!(ErrorCode::parse(s), Some(*code));
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn statuses_are_error_statuses() {
        for code in ErrorCode::ALL {
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }

    /// Both languages fill the same placeholders, each a snake_case name; except a name given in
    /// each language.
    #[test]
    fn templates_of_both_languages_have_the_same_placeholders() {
        for code in ErrorCode::ALL {
            let mut en = placeholders(code.en());
            let mut it = placeholders(code.it());
            for name in en.iter().chain(&it) {
                assert!(
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{code}: {{{name}}}"
                );
            }
            // A name, a reason or a subject in each language.
            let pairs = [
                ("name_en", "name_it"),
                ("reason_en", "reason_it"),
                ("subject_en", "subject_it"),
            ];
            for (en_only, it_only) in pairs {
                en.retain(|n| *n != en_only);
                it.retain(|n| *n != it_only);
            }
            en.sort_unstable();
            it.sort_unstable();
            assert_eq!(en, it, "{code}");
        }
    }

    /// The README's section "Error codes" holds the table of the catalogue as it is; after a
    /// change, `cargo run -q -- error-codes` prints the new one.
    #[test]
    fn the_readme_holds_the_table_of_the_catalogue() {
        let readme = include_str!("../../README.md");
        let start = "<!-- error-codes: generated by `cargo run -q -- error-codes` -->\n";
        let end = "<!-- /error-codes -->";
        let from = readme.find(start).expect("the README marks the table") + start.len();
        let to = from + readme[from..].find(end).expect("the README ends the table");
        assert!(
            readme[from..to] == markdown_table(),
            "the README's table of error codes is stale: run `cargo run -q -- error-codes`"
        );
    }

    /// Every site of the source that names a code fills exactly its placeholders: with
    /// `with(&[("name", ..), ..])`, or words it itself (`worded`); a code named bare has none.
    /// (The problems built in `error.rs` and the examples of `openapi.rs` fill theirs through
    /// `with` too, checked when the tests run them.)
    #[test]
    fn every_site_fills_the_placeholders_of_its_code() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        // Codes named bare where a later `with` fills them.
        let filled_later = [
            ("error.rs", ""),
            ("openapi.rs", ""),
            ("extract.rs", "InvalidType"),
            ("extract.rs", "InvalidValue"),
            ("partnership.rs", "Partnership"),
        ];
        let mut all = vec![];
        files(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut all,
        );
        let mut sites = 0;
        for path in all {
            let file = path.file_name().unwrap().to_str().unwrap().to_owned();
            if file == "error_code.rs" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("ErrorCode::") {
                let rest = &text[at + "ErrorCode::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                let Some(code) = ErrorCode::ALL
                    .iter()
                    .find(|c| format!("{c:?}") == name)
                    .copied()
                else {
                    continue;
                };
                sites += 1;
                let after = rest[name.len()..].trim_start();
                let mut wanted = code.placeholders();
                wanted.sort_unstable();
                if let Some(args) = after.strip_prefix(".with(&[") {
                    let args = &args[..args.find("])").unwrap()];
                    let mut given: Vec<&str> = args
                        .split("(\"")
                        .skip(1)
                        .filter_map(|a| a.split_once("\","))
                        .map(|(n, _)| n)
                        .filter(|n| {
                            !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                        })
                        .collect();
                    given.sort_unstable();
                    assert_eq!(given, wanted, "{file}: {code} fills other placeholders");
                } else if !after.starts_with(".worded(") {
                    let later = filled_later
                        .iter()
                        .any(|(f, prefix)| *f == file && name.starts_with(prefix));
                    assert!(
                        wanted.is_empty() || later,
                        "{file}: {code} has placeholders {wanted:?} but is named bare"
                    );
                }
            }
        }
        assert!(sites > 200, "only {sites} sites found");
    }

    #[test]
    fn with_fills_every_placeholder() {
        let c = ErrorCode::CallCodeTaken.with(&[("code", &"BANDO-1")]);
        assert_eq!(c.message.en, "A call with code BANDO-1 already exists.");
        assert_eq!(c.message.it, "Esiste già un avviso con codice BANDO-1.");
    }

    #[test]
    #[should_panic(expected = "placeholders")]
    #[cfg(debug_assertions)]
    fn with_refuses_a_missing_argument() {
        let _ = ErrorCode::CallCodeTaken.with(&[]);
    }
}
