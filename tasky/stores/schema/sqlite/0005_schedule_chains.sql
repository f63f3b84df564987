-- A schedule whose body is a chain (its template, JSON): each tick stores one chain run.
ALTER TABLE schedules ADD COLUMN chain TEXT;
