// A front desk's first steps, written against the types generated from /openapi.json with
// openapi-typescript's defaults. CI type-checks it (tsc --noEmit --strict): a change to the
// contract that breaks a typed client breaks this file. It is never run.
import createClient from "openapi-fetch";

import type { components, paths } from "./generated/schema";

type Schemas = components["schemas"];
type BookingRefusal = NonNullable<
  paths["/api/v1/sessions"]["post"]["responses"][409]["content"]["application/problem+json"]["code"]
>;

const api = createClient<paths>({ baseUrl: "http://127.0.0.1:8000" });

export async function logIn(username: string, password: string): Promise<string> {
  // grant_type has a server default: it may be left out.
  const { data, error } = await api.POST("/api/v1/auth/token", {
    body: { username, password },
    bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  if (error) throw new Error(`${error.code}: ${error.detail}`);
  return data.access_token;
}

export async function firstCourse(
  token: string,
  practitionerId: string,
  bookingKey: string = crypto.randomUUID(),
): Promise<string> {
  const headers = { Authorization: `Bearer ${token}` };

  const patient: Schemas["PatientCreate"] = {
    given_name: "Camille",
    family_name: "Martin",
    birth_date: "1985-04-12",
    sex: "female",
  };
  const created = await api.POST("/api/v1/patients", { body: patient, headers });
  if (created.error) throw new Error(created.error.code);
  const patientId = created.data.id;
  const etag: string | null = created.response.headers.get("ETag");
  console.log("version", created.data.version, etag);

  const recorded = await api.POST("/api/v1/patients/{patient_id}/evaluations", {
    params: { path: { patient_id: patientId } },
    body: {
      practitioner_id: practitionerId,
      performed_at: new Date().toISOString(),
      spider_vein_sites: ["left-calf", "right-thigh"],
      ceap_class: "C1",
      varicose_veins: "absent",
      risk_factors: { hormonal_contraception: false, history_of_blood_clots: false },
      benefits_and_risks_explained: true,
    },
    headers,
  });
  if (recorded.error) throw new Error(recorded.error.code);
  // The server computes the outcome; a receptionist would get the summary view.
  const outcome: Schemas["Outcome"] = recorded.data.outcome;
  const blood: boolean | null | undefined = recorded.data.risk_factors.history_of_blood_clots;
  console.log(outcome, blood);

  // duration_minutes has a server default (45): it may be left out.
  // One key for this booking, sent again on every retry: a retry gets the first answer.
  const booked = await api.POST("/api/v1/sessions", {
    body: { patient_id: patientId, practitioner_id: practitionerId, start: "2027-01-11T09:30:00Z" },
    headers,
    params: { header: { "Idempotency-Key": bookingKey } },
  });
  if (booked.error) {
    if (booked.response.status === 409 && "code" in booked.error) {
      return explain(booked.error.code as BookingRefusal);
    }
    throw new Error(booked.error.code);
  }
  return `booked ${booked.data.id} (${booked.data.status})`;
}

function explain(code: BookingRefusal): string {
  switch (code) {
    case "eligibility-blocked":
      return "The patient may not be booked now: see their eligibility.";
    case "slot-taken":
      return "That time overlaps another session: pick another slot.";
    case "room-taken":
      return "No room is free then (or the one named is taken): pick another slot or room.";
    case "buffer-conflict":
      return "That time is too close to another of the practitioner's sessions: pick another slot.";
    case "patient-archived":
      return "The patient is archived.";
    case "plan-full":
      return "The course has all its sessions.";
    case "waitlist-offer":
      return "That hold is a waitlist offer: accept or decline it on the waitlist.";
    case "hold-expired":
      return "The hold on that slot ended before the booking: hold it again.";
    case "conflict":
    case "concurrent-update":
      return "Something changed meanwhile: reload and try again.";
    case "idempotency-key-in-flight":
      return "The same booking is still being answered: retry it shortly, with the same key.";
    default: {
      const unhandled: never = code; // a new refusal code fails the type check here
      return unhandled;
    }
  }
}

export async function readEvaluation(token: string, evaluationId: string): Promise<string> {
  const { data, error } = await api.GET("/api/v1/evaluations/{evaluation_id}", {
    params: { path: { evaluation_id: evaluationId } },
    headers: { Authorization: `Bearer ${token}` },
  });
  if (error) throw new Error(error.code);
  switch (data.view) {
    case "full":
      return `${data.outcome} at ${data.spider_vein_sites.join(", ")}`;
    case "summary":
      return data.outcome;
  }
}
