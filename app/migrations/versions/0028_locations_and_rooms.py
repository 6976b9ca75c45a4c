"""locations and treatment rooms: where a session takes place, a room one session at a time

- `locations`: the clinic's sites (name, address, IANA time zone); `rooms`: each site's
  treatment rooms (name, active); `room_closures`: times a room is closed (maintenance).
- `practitioner_availability.location_id`: a practitioner's weekly hours are per location,
  read on the location's clock.
- `treatment_sessions.location_id` and `room_id`: the room a session (or a hold) takes, held
  to its location by one foreign key (`rooms (location_id, id)`). On PostgreSQL an exclusion
  constraint refuses two calendar sessions (booked, arrived, fulfilled, or a hold) overlapping
  in one room, beside those of migrations 0003 and 0020 per practitioner and per patient.

Existing data: one location per time zone in use (the practitioners' zones and the zones the
sessions were booked in), named `Main site (<zone>)`. Each practitioner gets a room of their
own at the location of each zone they work or worked in (`Room <n>: <name>`): one room for
everyone would refuse, under the new constraint, every two sessions of different
practitioners booked at the same time. Each practitioner's hours move to the location of their
zone (so 09:00 stays 09:00 on the same clock), and each session to the room of its
practitioner at the location of its zone.

Downgrading drops the three tables and the columns: a practitioner's hours are read on their
own zone's clock again, wherever they were (hours at a site of another zone then read other
times), and which room each session took is forgotten.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-09
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op


revision: str = '0028'
down_revision: str | None = '0027'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The statuses that take their time in the calendar (migration 0020).
_CALENDAR = "('booked', 'arrived', 'fulfilled', 'pending')"
_ROOM_OVERLAP = 'ex_treatment_sessions_room_id_overlap'
_SESSION_ROOM_FK = 'fk_treatment_sessions_location_id_rooms'

_LOCATIONS = sa.table(
    'locations',
    sa.column('id', sa.Uuid()),
    sa.column('name', sa.String()),
    sa.column('name_key', sa.String()),
    sa.column('address', sa.String()),
    sa.column('time_zone', sa.String()),
    sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('updated_at', sa.DateTime(timezone=True)),
    sa.column('version', sa.Integer()),
)
_ROOMS = sa.table(
    'rooms',
    sa.column('id', sa.Uuid()),
    sa.column('location_id', sa.Uuid()),
    sa.column('name', sa.String()),
    sa.column('name_key', sa.String()),
    sa.column('active', sa.Boolean()),
    sa.column('created_at', sa.DateTime(timezone=True)),
    sa.column('updated_at', sa.DateTime(timezone=True)),
    sa.column('version', sa.Integer()),
)
_PRACTITIONERS = sa.table(
    'practitioners',
    sa.column('id', sa.Uuid()),
    sa.column('name', sa.String()),
    sa.column('name_key', sa.String()),
    sa.column('time_zone', sa.String()),
)
_HOURS = sa.table(
    'practitioner_availability',
    sa.column('practitioner_id', sa.Uuid()),
    sa.column('location_id', sa.Uuid()),
)
_SESSIONS = sa.table(
    'treatment_sessions',
    sa.column('practitioner_id', sa.Uuid()),
    sa.column('time_zone', sa.String()),
    sa.column('location_id', sa.Uuid()),
    sa.column('room_id', sa.Uuid()),
)


def _stamps() -> dict[str, object]:
    now = datetime.now(UTC)
    return {'created_at': now, 'updated_at': now, 'version': 1}


def _tables() -> None:
    op.create_table(
        'locations',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('name_key', sa.String(length=600), nullable=False),
        sa.Column('address', sa.String(length=500), nullable=True),
        sa.Column('time_zone', sa.String(length=64), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_locations')),
    )
    op.create_index('ix_locations_name_order', 'locations', ['name_key', 'id'])
    op.create_table(
        'rooms',
        sa.Column('location_id', sa.Uuid(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('name_key', sa.String(length=600), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['location_id'], ['locations.id'], name=op.f('fk_rooms_location_id_locations')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rooms')),
        sa.UniqueConstraint('location_id', 'id', name=op.f('uq_rooms_location_id_id')),
    )
    op.create_index('ix_rooms_location_name', 'rooms', ['location_id', 'name_key', 'id'])
    op.create_table(
        'room_closures',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('room_id', sa.Uuid(), nullable=False),
        sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('start_at < end_at', name=op.f('ck_room_closures_start_before_end')),
        sa.ForeignKeyConstraint(
            ['room_id'], ['rooms.id'], name=op.f('fk_room_closures_room_id_rooms')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_room_closures')),
    )
    op.create_index('ix_room_closures_room_start', 'room_closures', ['room_id', 'start_at'])


def _sites_and_rooms(
    connection: sa.Connection,
) -> tuple[dict[str, uuid.UUID], dict[tuple[uuid.UUID, str], uuid.UUID]]:
    """A location per zone in use and a room per practitioner and zone, written: the
    location of each zone, and the room of each (practitioner, zone)."""
    practitioners = {
        row.id: row
        for row in connection.execute(
            sa.select(_PRACTITIONERS).order_by(_PRACTITIONERS.c.name_key, _PRACTITIONERS.c.id)
        )
    }
    pairs = {(row.id, row.time_zone) for row in practitioners.values()}
    pairs |= {
        (row.practitioner_id, row.time_zone)
        for row in connection.execute(
            sa.select(_SESSIONS.c.practitioner_id, _SESSIONS.c.time_zone).distinct()
        )
    }
    zones = sorted({zone for _, zone in pairs})
    sites = {zone: uuid.uuid4() for zone in zones}
    if sites:
        connection.execute(
            sa.insert(_LOCATIONS),
            [
                {
                    'id': site,
                    'name': f'Main site ({zone})',
                    'name_key': f'main site ({zone})'.casefold(),
                    'address': None,
                    'time_zone': zone,
                    **_stamps(),
                }
                for zone, site in sites.items()
            ],
        )
    order = {practitioner_id: n for n, practitioner_id in enumerate(practitioners)}
    rooms: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    rows = []
    for zone in zones:
        here = sorted((p for p, z in pairs if z == zone), key=order.__getitem__)
        for number, practitioner_id in enumerate(here, start=1):
            room = rooms[practitioner_id, zone] = uuid.uuid4()
            name = f'Room {number}: {practitioners[practitioner_id].name}'[:200]
            rows.append(
                {
                    'id': room,
                    'location_id': sites[zone],
                    'name': name,
                    'name_key': name.casefold(),
                    'active': True,
                    **_stamps(),
                }
            )
    if rows:
        connection.execute(sa.insert(_ROOMS), rows)
    return sites, rooms


def upgrade() -> None:
    _tables()
    connection = op.get_bind()
    sites, rooms = _sites_and_rooms(connection)
    with op.batch_alter_table('practitioner_availability') as batch:
        batch.add_column(sa.Column('location_id', sa.Uuid(), nullable=True))
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.add_column(sa.Column('location_id', sa.Uuid(), nullable=True))
        batch.add_column(sa.Column('room_id', sa.Uuid(), nullable=True))
    for zone, site in sites.items():
        connection.execute(
            sa.update(_HOURS)
            .where(
                _HOURS.c.practitioner_id.in_(
                    sa.select(_PRACTITIONERS.c.id).where(_PRACTITIONERS.c.time_zone == zone)
                )
            )
            .values(location_id=site)
        )
    for (practitioner_id, zone), room in rooms.items():
        connection.execute(
            sa.update(_SESSIONS)
            .where(_SESSIONS.c.practitioner_id == practitioner_id, _SESSIONS.c.time_zone == zone)
            .values(location_id=sites[zone], room_id=room)
        )
    with op.batch_alter_table('practitioner_availability') as batch:
        batch.alter_column('location_id', existing_type=sa.Uuid(), nullable=False)
        batch.create_foreign_key(
            op.f('fk_practitioner_availability_location_id_locations'),
            'locations',
            ['location_id'],
            ['id'],
        )
        batch.create_index(
            op.f('ix_practitioner_availability_location_id'), ['location_id']
        )
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.alter_column('location_id', existing_type=sa.Uuid(), nullable=False)
        batch.alter_column('room_id', existing_type=sa.Uuid(), nullable=False)
        batch.create_foreign_key(
            _SESSION_ROOM_FK, 'rooms', ['location_id', 'room_id'], ['location_id', 'id']
        )
        batch.create_index('ix_treatment_sessions_room_start', ['room_id', 'start_at'])
    if connection.dialect.name == 'postgresql':
        # The database itself refuses two sessions in one room at once, as it does for a
        # practitioner's and a patient's (migrations 0003, 0020).
        op.execute(
            f'ALTER TABLE treatment_sessions ADD CONSTRAINT {_ROOM_OVERLAP} '
            "EXCLUDE USING gist (room_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            f'WHERE (status IN {_CALENDAR})'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE treatment_sessions DROP CONSTRAINT {_ROOM_OVERLAP}')
    with op.batch_alter_table('treatment_sessions') as batch:
        batch.drop_index('ix_treatment_sessions_room_start')
        batch.drop_constraint(_SESSION_ROOM_FK, type_='foreignkey')
        batch.drop_column('room_id')
        batch.drop_column('location_id')
    with op.batch_alter_table('practitioner_availability') as batch:
        batch.drop_index(op.f('ix_practitioner_availability_location_id'))
        batch.drop_constraint(
            op.f('fk_practitioner_availability_location_id_locations'), type_='foreignkey'
        )
        batch.drop_column('location_id')
    op.drop_index('ix_room_closures_room_start', table_name='room_closures')
    op.drop_table('room_closures')
    op.drop_index('ix_rooms_location_name', table_name='rooms')
    op.drop_table('rooms')
    op.drop_index('ix_locations_name_order', table_name='locations')
    op.drop_table('locations')
